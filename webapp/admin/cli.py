"""`flask users …`: account chores for operators. Each change is audited with no user id (an operator at the
console did it, not a signed-in account) and `via="cli"`."""
import sys
from datetime import UTC, datetime

import click
from email_validator import EmailNotValidError, validate_email
from flask import current_app
from flask.cli import AppGroup
from werkzeug.datastructures import MultiDict

from webapp import audit
from webapp.admin.users import (
    LastAdmin,
    disable_user,
    enable_user,
    find_by_email,
    grant_admin,
    list_users,
    revoke_admin,
)
from webapp.auth.accounts import EmailTaken, hash_password, normalise_email, register_user
from webapp.auth.deletion import delete_account, finish_deletion
from webapp.auth.forms import RegisterForm
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


def last_admin_error(user: User) -> click.ClickException:
    return click.ClickException(
        f"{user.email} is the last admin who can sign in: make another account an admin first.")


@users_cli.command("create")
@click.argument("email")
@click.option("--admin", is_flag=True, help="Give the account access to the admin pages.")
@click.option("--name", default="", help='The name shown for the account, e.g. "Ada Lovelace".')
def create_command(email: str, admin: bool, name: str) -> None:
    """Create a confirmed account for EMAIL that can sign in at once. The password is asked for twice, or read as
    one line from standard input when that is not a terminal."""
    first_name, last_name = split_name(name)
    password = read_new_password()
    # The sign-up form's own rules: what a visitor may not choose, an operator may not either.
    form = RegisterForm(formdata=MultiDict({"email": email, "password": password, "confirm": password,
                                            "first_name": first_name, "last_name": last_name}), meta={"csrf": False})
    if not form.validate():
        field, messages = next(iter(form.errors.items()))
        raise click.ClickException(f"{form[field].label.text}: {messages[0]}")
    password_hash = hash_password(password)  # before any statement: no transaction waits on argon2
    try:
        user = register_user(db.session, email=form.email.data, password_hash=password_hash,
                             first_name=form.first_name.data, last_name=form.last_name.data)
    except EmailTaken:
        raise click.ClickException(f"There is already an account with the email {normalise_email(email)}.") from None
    audit.record(db.session, "USER_CREATE", user_id=None, resource=("user", user.id), via="cli")
    if admin and grant_admin(db.session, user):  # the first account of an instance is an admin already
        audit.record(db.session, "ADMIN_GRANT", user_id=None, resource=("user", user.id), via="cli")
    db.session.commit()
    click.echo(f"Created {'the admin ' if user.is_admin else ''}{user.email}; it can sign in now."
               + (" As the instance's first account, it is its admin." if user.is_admin and not admin else ""))


def split_name(name: str) -> tuple[str, str]:
    """Split "Ada King Lovelace" into ("Ada King", "Lovelace"); one word is a first name."""
    *first, last = name.split() or [""]
    return (" ".join(first), last) if first else (last, "")


def read_new_password() -> str:
    if sys.stdin.isatty():
        return click.prompt("Password", hide_input=True, confirmation_prompt="Repeat password")
    return sys.stdin.readline().rstrip("\r\n")


@users_cli.command("list")
def list_command() -> None:
    """Every account: email, name, admin, disabled, created and last sign-in (UTC)."""
    rows, after = [], None
    while True:
        page = list_users(db.session, after=after)
        rows += page.rows
        if page.next_after is None:
            break
        after = page.next_after
    if not rows:
        click.echo("No accounts yet: `flask users create EMAIL --admin` makes the first.")
        return
    table = [("EMAIL", "NAME", "ADMIN", "DISABLED", "CREATED (UTC)", "LAST SIGN-IN (UTC)")] + [
        (row.email, " ".join(part for part in (row.first_name, row.last_name) if part), yes_no(row.is_admin),
         yes_no(row.disabled_at is not None), utc_minutes(row.created_at), utc_minutes(row.last_login_at))
        for row in rows]
    widths = [max(len(line[column]) for line in table) for column in range(len(table[0]))]
    for line in table:
        click.echo("  ".join(value.ljust(width) for value, width in zip(line, widths, strict=True)).rstrip())


def yes_no(value: bool) -> str:
    return "yes" if value else "no"


def utc_minutes(moment: datetime | None) -> str:
    # No sign-in on record: none yet, or the last one's audit row was archived (after 90 days).
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if moment else "-"


@users_cli.command("disable")
@click.argument("email")
def disable_command(email: str) -> None:
    """Stop the account with EMAIL from signing in; its sessions and private feed address end at once."""
    user = account_or_fail(email)
    if user.disabled_at is not None:
        click.echo(f"{user.email} is already disabled.")
        return
    try:
        ended = disable_user(db.session, user, now=datetime.now(UTC))
    except LastAdmin:
        raise last_admin_error(user) from None
    audit.record(db.session, "ADMIN_USER_DISABLE", user_id=None, resource=("user", user.id), via="cli",
                 sessions_ended=ended)
    db.session.commit()
    click.echo(f"{user.email} is disabled; {ended} session{'s' if ended != 1 else ''} ended.")


@users_cli.command("enable")
@click.argument("email")
def enable_command(email: str) -> None:
    """Let the disabled account with EMAIL sign in again."""
    user = account_or_fail(email)
    if user.deleted_at is not None:
        raise click.ClickException(f"{user.email} is deleted; it cannot be enabled.")
    if user.disabled_at is None:
        click.echo(f"{user.email} is not disabled.")
        return
    enable_user(db.session, user)
    audit.record(db.session, "ADMIN_USER_ENABLE", user_id=None, resource=("user", user.id), via="cli")
    db.session.commit()
    click.echo(f"{user.email} can sign in again.")


@users_cli.command("make-admin")
@click.argument("email")
def make_admin_command(email: str) -> None:
    """Give the account with EMAIL access to the admin pages."""
    user = account_or_fail(email)
    if not grant_admin(db.session, user):
        click.echo(f"{user.email} is already an admin.")
        return
    audit.record(db.session, "ADMIN_GRANT", user_id=None, resource=("user", user.id), via="cli")
    db.session.commit()
    click.echo(f"{user.email} is now an admin.")


@users_cli.command("revoke-admin")
@click.argument("email")
def revoke_admin_command(email: str) -> None:
    """Take the admin pages away from the account with EMAIL (never from the last admin who can sign in)."""
    user = account_or_fail(email)
    try:
        revoked = revoke_admin(db.session, user)
    except LastAdmin:
        raise last_admin_error(user) from None
    if not revoked:
        click.echo(f"{user.email} is not an admin.")
        return
    audit.record(db.session, "ADMIN_REVOKE", user_id=None, resource=("user", user.id), via="cli")
    db.session.commit()
    click.echo(f"{user.email} is no longer an admin.")


@users_cli.command("delete")
@click.argument("email")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def delete_command(email: str, yes: bool) -> None:
    """Delete the account with EMAIL for good: its calendars, events, sessions and private feed go, its Google grant
    is revoked; the audit trail stays without it."""
    user = account_or_fail(email)
    if not yes:
        click.confirm(f"Delete {user.email} and everything Almanac holds for it? This cannot be undone", abort=True)
    try:
        deletion = delete_account(db.session, user, actor_id=None, via="cli")
    except LastAdmin:
        raise last_admin_error(user) from None
    db.session.commit()
    failed = finish_deletion(db.session, deletion)
    click.echo(f"Deleted {email.strip().lower()}: {deletion.calendars} calendars, {deletion.events} events."
               + (f" {failed} grant(s) could not be revoked at the provider (see the audit log)." if failed else ""))


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
