import click
from flask.cli import AppGroup

from webapp.credentials import rotate_keys
from webapp.extensions import db

tokens_cli = AppGroup("tokens", help="Provider secrets at rest.")


@tokens_cli.command("rotate")
@click.option("--batch-size", default=200, show_default=True, help="Rows re-encrypted per transaction.")
def rotate_command(batch_size: int) -> None:
    """Re-encrypt every stored secret under the first TOKEN_ENCRYPTION_KEYS key (idempotent, resumable)."""
    counts = rotate_keys(db.session, batch_size=batch_size)
    click.echo(f"re-encrypted {counts['rotated']} secrets; {counts['undecryptable']} could not be decrypted "
               "(those connections now ask to reconnect)")
