"""`sslmode` and `sslrootcert` in DATABASE_URL are honoured, against a real PostgreSQL serving TLS on loopback."""
from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from tests.helpers import free_port, self_signed_certificate
from webapp import create_app
from webapp.config import Config
from webapp.extensions import db


def debian_postgres_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=lambda p: int(p.parent.parent.name))
    assert found, "Debian's PostgreSQL server is missing: `make test` installs it (apt-get install postgresql)"
    return found[-1].parent


@pytest.fixture(scope="module")
def tls_postgres():
    """Debian's PostgreSQL (the embedded build has no TLS), initialised here and listening on 127.0.0.1 with TLS on
    and plain connections still allowed; run as the `postgres` user, as the server refuses root."""
    binaries = debian_postgres_bin()
    root = Path(tempfile.mkdtemp(prefix="almanac-tls-pg-"))
    data, run = root / "data", root / "run"  # the server's own: its data, and its socket and log
    account = pwd.getpwnam("postgres") if os.geteuid() == 0 else None
    user = {"user": account.pw_uid, "group": account.pw_gid} if account else {}
    try:
        root.chmod(0o755)
        data.mkdir(mode=0o700)
        run.mkdir(mode=0o700)
        certificate, key = self_signed_certificate(root)
        key.chmod(0o600)
        if account:
            for path in (data, run, key):
                os.chown(path, account.pw_uid, account.pw_gid)
        subprocess.run([binaries / "initdb", "-D", data, "-U", "postgres", "--auth=trust"], check=True,
                       capture_output=True, **user)
        port = free_port()
        options = (f"-h 127.0.0.1 -p {port} -k {run} -c ssl=on -c ssl_cert_file={certificate} "
                   f"-c ssl_key_file={key}")
        subprocess.run([binaries / "pg_ctl", "-D", data, "-w", "-o", options, "-l", run / "server.log", "start"],
                       check=True, capture_output=True, timeout=60, **user)
        yield f"postgresql://postgres@localhost:{port}/postgres", certificate, root
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run([binaries / "pg_ctl", "-D", data, "-w", "-m", "fast", "stop"], capture_output=True,
                           timeout=60, **user)
        shutil.rmtree(root, ignore_errors=True)


def connection_uses_tls(database_url: str) -> bool:
    config = Config.from_env({"DATABASE_URL": database_url, "REDIS_URL": "redis://127.0.0.1:1/0",
                              "SECRET_KEY": "s", "TOKEN_ENCRYPTION_KEYS": "k:" + "A" * 43 + "="})
    app = create_app({"CONFIG": config})
    with app.app_context():
        try:
            with db.engine.connect() as connection:
                return connection.execute(text("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")).scalar()
        finally:
            db.engine.dispose()


def test_verify_full_with_the_servers_root_certificate_connects_over_tls(tls_postgres):
    url, certificate, _ = tls_postgres
    assert connection_uses_tls(f"{url}?sslmode=verify-full&sslrootcert={certificate}") is True


def test_a_different_root_certificate_is_refused(tls_postgres):
    url, _, root = tls_postgres
    (root / "other").mkdir(exist_ok=True)
    stranger, _ = self_signed_certificate(root / "other")
    with pytest.raises(OperationalError, match="certificate verify failed"):
        connection_uses_tls(f"{url}?sslmode=verify-full&sslrootcert={stranger}")


def test_sslmode_decides(tls_postgres):
    url, _, _ = tls_postgres
    assert connection_uses_tls(f"{url}?sslmode=disable") is False
    assert connection_uses_tls(f"{url}?sslmode=require") is True
