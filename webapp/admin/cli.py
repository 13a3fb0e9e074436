"""`flask users …`: account chores for operators."""
import click
from flask import current_app
from flask.cli import AppGroup

from webapp import audit
from webapp.admin.users import find_by_email, grant_admin
from webapp.auth.recovery import create_reset_link
from webapp.extensions import db
from webapp.models import User

users_cli = AppGroup("users", help="Manage accounts.")


def account_or_fail(email: str) -> User:
    """The account with this email, or a console error that names the email as we looked it up."""
    user = find_by_email(db.session, email)
    if user is None:
        raise click.ClickException(f"No account with the email {email.strip().lower()}.")
    return user


@users_cli.command("make-admin")
@click.argument("email")
def make_admin_command(email: str) -> None:
    """Give the account with EMAIL access to the admin pages."""
    user = account_or_fail(email)
    if not grant_admin(db.session, user):
        click.echo(f"{user.email} is already an admin.")
        return
    # No user id: an operator at the console did this, not a signed-in account.
    audit.record(db.session, "ADMIN_GRANT", user_id=None, resource=("user", user.id), via="cli")
    db.session.commit()
    click.echo(f"{user.email} is now an admin.")


@users_cli.command("reset-link")
@click.argument("email")
def reset_link_command(email: str) -> None:
    """Print a single-use link that lets the account with EMAIL choose a new password."""
    user = account_or_fail(email)
    if not user.is_active:
        raise click.ClickException(f"{user.email} is disabled or deleted; enable it first.")
    minutes = current_app.config["RESET_LINK_MINUTES"]
    link = create_reset_link(db.session, user, minutes=minutes)
    audit.record(db.session, "PASSWORD_RESET_LINK", user_id=None, resource=("user", user.id), via="cli")
    db.session.commit()
    click.echo(f"Reset link for {user.email} (works once, for {minutes} minutes):\n{link}")
