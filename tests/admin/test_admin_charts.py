from datetime import UTC, datetime, timedelta

from webapp.admin.charts import bars, format_value, sparkline

START = datetime(2026, 11, 1, tzinfo=UTC)


def test_sparkline_spans_the_window_and_the_value_range():
    series = [(START, 5.0), (START + timedelta(days=1), 10.0), (START + timedelta(days=2), 0.0)]
    chart = sparkline("Queued jobs", "count", series, START, START + timedelta(days=2), width=106, height=56)
    assert chart.points == "3.0,28.0 53.0,3.0 103.0,53.0"
    assert (chart.latest, chart.minimum, chart.maximum, chart.samples) == ("0", "0", "10", 3)


def test_flat_and_empty_series():
    flat = sparkline("Connections", "count", [(START, 4.0), (START + timedelta(hours=1), 4.0)], START,
                     START + timedelta(hours=2), width=106, height=40)
    assert flat.points == "3.0,20.0 53.0,20.0"
    empty = sparkline("Connections", "count", [], START, START + timedelta(hours=2))
    assert (empty.points, empty.latest, empty.samples) == ("", "no data", 0)


def test_bars_are_proportional_to_the_largest_count():
    assert [bar.width for bar in bars([("a", 4), ("b", 1), ("c", 0)], width=200)] == [200, 50, 0]
    assert [bar.width for bar in bars([("a", 0)], width=200)] == [0]


def test_values_are_formatted_by_unit():
    assert format_value(512, "bytes") == "512 B"
    assert format_value(3 * 1024 * 1024, "bytes") == "3.0 MB"
    assert format_value(0.98765, "ratio") == "98.8%"
    assert format_value(2.25, "seconds") == "2.2 s"
    assert format_value(12345, "count") == "12,345"
