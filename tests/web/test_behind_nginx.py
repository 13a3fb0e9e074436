"""End to end behind a real TLS proxy: the Procfile's gunicorn, behind Debian's nginx on loopback with a
self-signed certificate made here. Clients connect from distinct loopback addresses (127.0.0.x), so the app must
take the client's address from X-Forwarded-For (TRUSTED_PROXY_HOPS=1) to tell them apart."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest
import requests
from requests.adapters import HTTPAdapter
from sqlalchemy import select

from local.launcher import BIN, procfile_processes
from tests.factories import PASSWORD, make_user
from tests.helpers import csrf_token_from, free_port, self_signed_certificate, wait_for
from webapp.config import PROJECT_ROOT
from webapp.extensions import db
from webapp.models import AuditLog

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


NGINX_CONF = """
daemon off;
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 64; }}
http {{
  access_log off;
  client_body_temp_path {root}/tmp/body;
  proxy_temp_path {root}/tmp/proxy;
  fastcgi_temp_path {root}/tmp/fastcgi;
  uwsgi_temp_path {root}/tmp/uwsgi;
  scgi_temp_path {root}/tmp/scgi;
  proxy_set_header Host $http_host;
  proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
  proxy_set_header X-Forwarded-Proto $scheme;
  server {{
    listen 127.0.0.1:{https_port} ssl;
    server_name localhost;
    ssl_certificate {cert};
    ssl_certificate_key {key};
    location / {{ proxy_pass http://127.0.0.1:{app_port}; }}
  }}
  server {{
    listen 127.0.0.1:{http_port};
    location / {{ proxy_pass http://127.0.0.1:{app_port}; }}
  }}
}}
"""


def wait_until_answering(url: str, verify, process: subprocess.Popen, timeout: float = 60.0) -> None:
    def answers() -> bool:
        assert process.poll() is None, f"exited with {process.returncode}"
        requests.get(url, timeout=10, verify=verify, allow_redirects=False)
        return True

    # Not listening yet, or still loading the app.
    wait_for(answers, timeout, f"{url} answering", tolerate=(requests.ConnectionError, requests.Timeout))


def stop_group(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


class FromAddress(HTTPAdapter):
    """Connect from a chosen loopback address, as a distinct client would."""

    def __init__(self, address: str):
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


def client_at(address: str, cert: Path) -> requests.Session:
    session = requests.Session()
    session.mount("https://", FromAddress(address))
    session.mount("http://", FromAddress(address))
    session.trust_env = False  # no proxy or CA bundle from the environment: our own certificate only
    session.verify = str(cert)
    return session



@pytest.fixture(scope="module")
def proxied_site(app, tmp_path_factory):
    """nginx with TLS in front of the Procfile's web process, started once for the module (several seconds);
    each test still gets an emptied database and Redis through its own fixtures."""
    assert Path(NGINX).exists(), "nginx is missing: `make test` installs it (apt-get install nginx)"
    tmp_path = tmp_path_factory.mktemp("proxied-site")
    (tmp_path / "tmp").mkdir()
    for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (tmp_path / "tmp" / name).mkdir(mode=0o777)
        (tmp_path / "tmp" / name).chmod(0o777)  # nginx's workers run as an unprivileged user
    cert, key = self_signed_certificate(tmp_path)
    app_port, https_port, http_port = free_port(), free_port(), free_port()
    home = tmp_path / "home"
    runtime = tmp_path / "runtime"
    home.mkdir()
    runtime.mkdir()
    env = {
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "HOME": str(home), "XDG_RUNTIME_DIR": str(runtime),
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"], "REDIS_URL": app.config["REDIS_URL"],
        "SECRET_KEY": app.config["SECRET_KEY"], "TOKEN_ENCRYPTION_KEYS": app.config["TOKEN_ENCRYPTION_KEYS"],
        "FORCE_HTTPS": "1", "TRUSTED_PROXY_HOPS": "1", "PORT": str(app_port), "HOST": "127.0.0.1",
        "LOG_LEVEL": "WARNING", "PUBLIC_URL": f"https://localhost:{https_port}",
    }
    # The very command a deployment runs.
    web = subprocess.Popen(procfile_processes()["web"], shell=True, env=env, cwd=PROJECT_ROOT,  # noqa: S602
                           start_new_session=True)
    conf = tmp_path / "nginx.conf"
    conf.write_text(NGINX_CONF.format(root=tmp_path, https_port=https_port, http_port=http_port, app_port=app_port,
                                      cert=cert, key=key))
    nginx = subprocess.Popen([NGINX, "-p", str(tmp_path), "-c", str(conf)], start_new_session=True)
    try:
        wait_until_answering(f"http://127.0.0.1:{app_port}/healthz", None, web)
        wait_until_answering(f"https://localhost:{https_port}/healthz", str(cert), nginx)
        yield {"https": f"https://localhost:{https_port}", "http": f"http://127.0.0.1:{http_port}", "cert": cert,
               "home": home, "runtime": runtime, "env": env}
    finally:
        stop_group(nginx)
        stop_group(web)


def log_in(browser: requests.Session, base: str, email: str, password: str) -> requests.Response:
    page = browser.get(f"{base}/login")
    return browser.post(f"{base}/login",
                        data={"email": email, "password": password, "csrf_token": csrf_token_from(page.text)},
                        headers={"Referer": f"{base}/login"}, allow_redirects=False)


def test_sign_in_through_nginx_with_tls(app, clean_database, redis, proxied_site):
    base, cert = proxied_site["https"], proxied_site["cert"]
    with app.app_context():
        email = make_user(db.session, first_name="Ada").email

    browser = client_at("127.0.0.5", cert)
    page = browser.get(f"{base}/login")
    assert page.status_code == 200
    assert page.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert "camera=()" in page.headers["Permissions-Policy"]

    response = log_in(browser, base, email, PASSWORD)
    assert response.status_code == 302
    set_cookie = response.raw.headers.getlist("Set-Cookie")
    login_cookie = next(header for header in set_cookie if header.startswith("__Host-almanac_session="))
    for flag in ("Secure", "HttpOnly", "Path=/", "SameSite=Lax"):
        assert flag in login_cookie
    assert "Domain=" not in login_cookie
    assert all("Secure" in header for header in set_cookie)
    assert any(header.startswith("__Host-session=") for header in set_cookie)
    home = browser.get(f"{base}/")
    assert home.status_code == 200 and "Welcome, Ada" in home.text and home.url.startswith("https://localhost")

    with app.app_context():
        entry = db.session.scalars(select(AuditLog).where(AuditLog.action == "USER_LOGIN")).one()
        assert entry.ip_address == "127.0.0.5"  # the client, not nginx (127.0.0.1)

    # Plain http through the proxy is sent to https, path and query kept.
    plain = requests.get(f"{proxied_site['http']}/login?next=/calendar/agenda", allow_redirects=False, timeout=10)
    assert plain.status_code == 308
    assert plain.headers["Location"].startswith("https://") and plain.headers["Location"].endswith(
        "/login?next=/calendar/agenda")


def test_the_throttle_sees_each_client_behind_the_proxy(app, clean_database, redis, proxied_site):
    base, cert = proxied_site["https"], proxied_site["cert"]
    with app.app_context():
        email = make_user(db.session).email
    attacker = client_at("127.0.0.66", cert)
    for _ in range(5):
        assert log_in(attacker, base, email, "wrong password").status_code == 422
    # A forged X-Forwarded-For does not help: nginx appends the real address, and one hop is trusted.
    attacker.headers["X-Forwarded-For"] = "198.51.100.1"
    assert log_in(attacker, base, email, PASSWORD).status_code == 429
    owner = client_at("127.0.0.7", cert)
    assert log_in(owner, base, email, PASSWORD).status_code == 302
    with app.app_context():
        addresses = set(db.session.scalars(select(AuditLog.ip_address).where(AuditLog.action == "USER_LOGIN")))
    assert addresses == {"127.0.0.66", "127.0.0.7"}


def test_each_gunicorn_instance_has_its_own_control_socket_or_none(proxied_site):
    # gunicorn 27 would put a control socket at $XDG_RUNTIME_DIR/gunicorn.ctl (or ~/.gunicorn/gunicorn.ctl),
    # one path for every instance on the host; the Procfile turns it off.
    assert "--no-control-socket" in procfile_processes()["web"]
    second_port = free_port()
    env = {**proxied_site["env"], "PORT": str(second_port)}
    second = subprocess.Popen(procfile_processes()["web"], shell=True, env=env, cwd=PROJECT_ROOT,  # noqa: S602
                              start_new_session=True)
    try:
        wait_until_answering(f"http://127.0.0.1:{second_port}/healthz", None, second)
        assert requests.get(f"{proxied_site['https']}/healthz", verify=str(proxied_site["cert"]),
                            timeout=10).status_code == 200
        sockets = [path for root in (proxied_site["home"], proxied_site["runtime"]) for path in root.rglob("*.ctl")]
        assert sockets == []
    finally:
        stop_group(second)
