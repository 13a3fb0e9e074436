"""Any rule, any window: Hypothesis generates RRULEs from RFC 5545's grammar (bench.recurrence.examples) and checks
that expanding them is bounded work and agrees with recurring-ical-events wherever that one finishes.

Work is counted as Python calls into our expansion code, not as time: the count does not move with the machine's
load. `python -m bench recurrence` runs the same generator over 100,000 rules and reports the times.
"""
from __future__ import annotations

import sys
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings

import webapp.recurrence
import webapp.rrule
from bench.recurrence import ISSUE_RULES, Example, comparable, examples, expand_cold, oracle
from webapp.recurrence import expansion_limit

# The bound is structural: at most YEAR_STEPS years per walk, a few walks per read, a few calls per year. The
# worst of 2,000 generated rules took 36,000 calls; dateutil took millions for 30 February alone.
MAX_CALLS = 150_000
OUR_FILES = {webapp.rrule.__file__, webapp.recurrence.__file__}


def calls_to_expand(example: Example) -> tuple[list[datetime], int]:
    calls = 0

    def count(frame, event, arg):
        nonlocal calls
        if event == "call" and frame.f_code.co_filename in OUR_FILES:
            calls += 1

    sys.setprofile(count)
    try:
        found, _ = expand_cold(example)
    finally:
        sys.setprofile(None)
    return found, calls


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(examples())
def test_any_rule_expands_with_bounded_work_and_agrees_with_an_independent_implementation(example):
    ours, calls = calls_to_expand(example)

    assert calls <= MAX_CALLS
    if comparable(example, ours):
        expected = oracle(example)
        if expected is not None:  # where recurring-ical-events finishes too
            assert ours == expected


def test_the_rules_that_stalled_the_server_cost_a_few_hundred_calls():
    for rule in ISSUE_RULES:
        example = Example(rule, datetime(2026, 10, 8, 9), "Europe/Berlin", datetime(2026, 12, 7, tzinfo=UTC),
                          datetime(2026, 12, 14, tzinfo=UTC))
        found, calls = calls_to_expand(example)

        assert calls < 1000
        assert found == []  # neither gives an instance after its first, which lies before the window


def test_a_rule_too_dense_to_draw_keeps_its_first_instance_and_says_why():
    example = Example(ISSUE_RULES[0], datetime(2026, 12, 7, 9), "UTC", datetime(2026, 12, 7, tzinfo=UTC),
                      datetime(2026, 12, 8, tzinfo=UTC))

    assert expand_cold(example)[0] == [datetime(2026, 12, 7, 9, tzinfo=UTC)]
    assert expansion_limit(example.master()).startswith("it repeats more than 24 times a day")
