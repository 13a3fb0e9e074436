import click
from flask.cli import AppGroup

from webapp.extensions import redis_client

jobs_cli = AppGroup("jobs", help="Background jobs.")


@jobs_cli.command("schedule")
def schedule_command() -> None:
    """Register the periodic schedule with rq-scheduler (idempotent)."""
    from jobs.schedule import reconcile

    result = reconcile(redis_client())
    click.echo(f"schedule: added {len(result['added'])}, removed {len(result['removed'])}")
