"""The fault-injection benchmark's short mode: provider faults, hostile content and SIGKILLed workers, after which
every calendar equals its provider (the full run's table lives in bench/results/)."""
from __future__ import annotations

import pytest

from bench.chaos import MODES, run, table

pytestmark = pytest.mark.slow  # SIGKILLs real worker processes, for half a minute


def test_after_faults_and_killed_workers_every_calendar_equals_its_provider():
    report = run(MODES["short"], seed=11)

    print(table(report, "short"))  # noqa: T201 - shown with -s, and in the failure output
    assert (report.lost, report.duplicated, report.stale) == (0, 0, 0), report.details
    assert report.cycles_to_converge in (1, 2)
    assert report.max_concurrent_syncs == 1
    assert report.kills >= MODES["short"].min_kills
    assert report.skipped_unreported == 0
    assert report.events_compared > 0
