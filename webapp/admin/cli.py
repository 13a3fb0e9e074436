"""`flask users …`: account chores for operators."""
import click
from flask.cli import AppGroup

from webapp import audit
from webapp.admin.users import find_by_email, grant_admin
from webapp.extensions import db

users_cli = AppGroup("users", help="Manage accounts.")


@users_cli.command("make-admin")
@click.argument("email")
def make_admin_command(email: str) -> None:
    """Give the account with EMAIL access to the admin pages."""
    user = find_by_email(db.session, email)
    if user is None:
        raise click.ClickException(f"No account with the email {email.strip().lower()}.")
    if not grant_admin(db.session, user):
        click.echo(f"{user.email} is already an admin.")
        return
    # No user id: an operator at the console did this, not a signed-in account.
    audit.record(db.session, "ADMIN_GRANT", user_id=None, resource=("user", user.id), via="cli")
    db.session.commit()
    click.echo(f"{user.email} is now an admin.")
