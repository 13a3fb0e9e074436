import importlib
import logging

import click
from flask import Flask
from flask.cli import AppGroup

from jobs.schedule import SCHEDULE, find, is_local_time_utc, reconcile
from webapp.extensions import redis_client

log = logging.getLogger(__name__)

jobs_cli = AppGroup("jobs", help="Background jobs.")
maintenance_cli = AppGroup("maintenance", help="Run scheduled jobs by hand.")


def register_commands(app: Flask) -> None:
    """`flask jobs …` and `flask maintenance …`; the web app itself never imports the jobs package."""
    app.cli.add_command(jobs_cli)
    app.cli.add_command(maintenance_cli)


@jobs_cli.command("schedule")
def schedule_command() -> None:
    """Register the periodic schedule with rq-scheduler (idempotent)."""
    if not is_local_time_utc():
        raise click.ClickException(
            "The scheduler must run in UTC (rq-scheduler reads cron times in local time): set TZ=UTC."
        )
    result = reconcile(redis_client())
    click.echo(f"schedule: added {len(result['added'])}, removed {len(result['removed'])}")


@maintenance_cli.command("run")
@click.argument("name", type=click.Choice([job.id for job in SCHEDULE]))
def run_command(name: str) -> None:
    """Run one scheduled job now, in this process, and print what it reports."""
    definition = find(name)
    module_name, _, function_name = definition.func.rpartition(".")
    try:
        job = getattr(importlib.import_module(module_name), function_name)
    except (ModuleNotFoundError, AttributeError) as error:
        # Only a module or function that does not exist yet; a broken import inside the module is a real error.
        if isinstance(error, ModuleNotFoundError) and error.name != module_name:
            raise
        raise click.ClickException(f"{name}: {definition.func} is not available yet") from None
    click.echo(f"{name}: running {definition.func}")
    try:
        result = job()
    except Exception as error:
        log.exception("maintenance run failed job=%s", name)
        raise click.ClickException(f"{name} failed: {type(error).__name__}") from None
    click.echo(f"{name}: done {result if result is not None else ''}".rstrip())


@maintenance_cli.command("list")
def list_command() -> None:
    """Show the schedule (UTC)."""
    for job in SCHEDULE:
        click.echo(f"{job.id:<28} {job.cron:<14} {job.func}")
