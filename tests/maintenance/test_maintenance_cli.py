"""`flask maintenance run NAME` runs a scheduled job at once, for operators."""
from __future__ import annotations

from jobs import cli
from jobs.cli import maintenance_cli
from jobs.schedule import Periodic
from tests.helpers import audit_rows


def test_run_executes_the_job_and_reports_its_counts(app, db_session, redis):
    result = app.test_cli_runner().invoke(maintenance_cli, ["run", "purge-oauth-states"])
    assert result.exit_code == 0, result.output
    assert "purge-oauth-states: done {'deleted': 0}" in result.output
    assert len(audit_rows(db_session, "MAINTENANCE_PURGE_OAUTH_STATES")) == 1


def test_unknown_names_list_the_choices(app):
    result = app.test_cli_runner().invoke(maintenance_cli, ["run", "defragment-everything"])
    assert result.exit_code == 2
    assert "archive-audit-logs" in result.output and "sync-sweep" in result.output


def test_a_job_whose_code_is_not_there_says_so(app, monkeypatch):
    monkeypatch.setattr(cli, "find", lambda name: Periodic(name, "* * * * *", "jobs.not_written_yet.sweep"))
    result = app.test_cli_runner().invoke(maintenance_cli, ["run", "sync-sweep"])
    assert result.exit_code == 1
    assert "jobs.not_written_yet.sweep is not available yet" in result.output


def test_a_failing_job_exits_non_zero_without_a_traceback(app, db_session, redis, monkeypatch):
    def broken():
        raise RuntimeError("disk full")

    monkeypatch.setattr("jobs.maintenance.vacuum_analyze", broken)
    result = app.test_cli_runner().invoke(maintenance_cli, ["run", "vacuum-analyze"])
    assert result.exit_code == 1
    assert "vacuum-analyze failed: RuntimeError" in result.output and "Traceback" not in result.output


def test_list_shows_the_schedule(app):
    result = app.test_cli_runner().invoke(maintenance_cli, ["list"])
    assert result.exit_code == 0
    assert "record-health-metrics" in result.output and "45 * * * *" in result.output
