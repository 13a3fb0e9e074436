"""`flask users …`: account chores for operators."""
from datetime import UTC, datetime

import click
from email_validator import EmailNotValidError, validate_email
from flask import current_app
from flask.cli import AppGroup

from webapp import audit
from webapp.admin.users import find_by_email, grant_admin
from webapp.auth.accounts import EmailTaken, normalise_email
from webapp.auth.invitations import INVITATION_LIFETIME, create_invitation
from webapp.auth.recovery import create_reset_link
from webapp.config import SignupPolicy
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


@users_cli.command("invite")
@click.argument("email")
def invite_command(email: str) -> None:
    """Print a single-use link that creates the account for EMAIL (SIGNUP=open or invite)."""
    if not SignupPolicy(current_app.config["SIGNUP"]).accepts_invitations:
        raise click.ClickException("Sign-up is closed (SIGNUP=closed), so an invitation could not be used; "
                                   "set SIGNUP=invite to invite people.")
    email = normalise_email(email)
    try:
        validate_email(email, check_deliverability=False)
    except EmailNotValidError as error:
        raise click.ClickException(f"{email} is not an email address: {error}") from None
    try:
        invitation, link = create_invitation(db.session, email, invited_by=None, now=datetime.now(UTC))
    except EmailTaken:
        raise click.ClickException(f"{email} already has an account.") from None
    audit.record(db.session, "INVITATION_CREATE", user_id=None, resource=("invitation", invitation.id),
                 email=invitation.email, via="cli")
    db.session.commit()
    click.echo(f"Invitation for {invitation.email} (works once, for {INVITATION_LIFETIME.days} days):\n{link}")
