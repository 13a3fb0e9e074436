"""Helpers for tests that are neither fixtures nor factories: reading pages (CSRF tokens, screenshots), driving
the OAuth flow and the browser sign-up, loopback servers and certificates, sync-test shorthands."""
from __future__ import annotations

import ipaddress
import os
import re
import select as select_module
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import psutil
import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from rq.job import JobStatus
from sqlalchemy import event, select

from sandbox.radicale_server import put_event
from tests.factories import PASSWORD
from webapp.config import PROJECT_ROOT
from webapp.extensions import db
from webapp.models import AuditLog, CalendarConnection, CalendarEvent

ARTIFACTS = PROJECT_ROOT / "artifacts"


APPLE_USER = ("apple.user@icloud.com", "abcd-efgh-ijkl-mnop")


def csrf_token_from(html: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or re.search(
        r'"X-CSRFToken": "([^"]+)"', html
    )
    assert match, "page has no CSRF token"
    return match.group(1)


class Mailbox:
    """The account-mail jobs run by a real RQ worker in this process, and the local outbox they deliver to."""

    def __init__(self, redis):
        self.redis = redis

    def deliver(self) -> list[dict]:
        from rq import Queue, SimpleWorker

        from webapp.mail import MAIL_QUEUE, outbox

        queue = Queue(MAIL_QUEUE, connection=self.redis)
        SimpleWorker([queue], connection=self.redis).work(burst=True)
        failed = queue.failed_job_registry
        assert failed.count == 0, queue.fetch_job(failed.get_job_ids()[0]).latest_result().exc_string
        return outbox(self.redis)

    def messages_to(self, address: str) -> list[dict]:
        return [message for message in self.deliver() if message["to"] == address]

    def link_to(self, address: str) -> str:
        """The path and query of the link in the newest mail to `address`."""
        (message, *_older) = self.messages_to(address)
        match = re.search(r"https?://[^/\s]+(/\S*)", message["body"])
        assert match, message["body"]
        return match.group(1)


@contextmanager
def loopback_names(monkeypatch, *names: str):
    """Resolve these host names to 127.0.0.1 in this process: several names for servers on loopback, as a
    provider spreads over hosts of one domain (no DNS is available here)."""
    real = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        return real("127.0.0.1" if host in names else host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield


def screenshot(page, name: str) -> Path:
    """Save a screenshot under artifacts/screenshots/ for people to look at."""
    path = ARTIFACTS / "screenshots" / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    return path


def sign_up_in_browser(page, base: str, mailbox: Mailbox, email: str, password: str, first_name: str = "") -> None:
    """Register through the form, open the mailed link from the local outbox page, and create the account."""
    page.goto(f"{base}/register")
    page.fill("#email", email)
    page.fill("#password", password)
    page.fill("#confirm", password)
    if first_name:
        page.fill("#first_name", first_name)
    page.click("button[type=submit]")
    page.wait_for_selector("text=Check your inbox")
    mailbox.deliver()
    page.click("text=local outbox")
    page.click(f"#outbox article:has-text('{email}') >> a[href*='/register/confirm']")
    page.click("text=Create my account")
    page.wait_for_selector("text=Welcome to Almanac.")


# Nothing listens on port 1 of the loopback interface: connections are refused at once.
CLOSED_POSTGRES = "postgresql://almanac:secret-password@127.0.0.1:1/almanac"


CLOSED_REDIS = "redis://127.0.0.1:1/0"


@contextmanager
def frozen(server):
    """SIGSTOP: the server keeps its socket open and accepts connections, but answers nothing."""
    os.kill(server.process.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(server.process.pid, signal.SIGCONT)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                    x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def in_test_session(job):
    """Run a job on the test's session and keep it open afterwards: the job ends transactions (and rolls back
    after failures, which expires objects), and the test goes on reading the objects it holds."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(db.session, "remove", lambda: None)
        return job()


def only_connection(db_session, user, name=None) -> CalendarConnection:
    query = select(CalendarConnection).where(CalendarConnection.user_id == user.id)
    if name:
        query = query.where(CalendarConnection.calendar_name == name)
    return db_session.scalars(query).one()


def live_events(db_session, connection) -> list[CalendarEvent]:
    """`connection` is the row or its id (a test that makes requests holds ids: each request closes the session)."""
    connection_id = getattr(connection, "id", connection)
    return db_session.scalars(select(CalendarEvent).where(
        CalendarEvent.calendar_connection_id == connection_id, CalendarEvent.deleted_at.is_(None))
        .order_by(CalendarEvent.start_time, CalendarEvent.title)).all()


def google_timed(summary, start: datetime, minutes=60, zone="UTC", **extra):
    return {"summary": summary, "start": {"dateTime": start.isoformat(), "timeZone": zone},
            "end": {"dateTime": (start + timedelta(minutes=minutes)).isoformat(), "timeZone": zone}, **extra}


def soon(days=1, hour=9) -> datetime:
    return (datetime.now(UTC) + timedelta(days=days)).replace(hour=hour, minute=0, second=0, microsecond=0)


def start_connect(client, provider="google"):
    """Press "Connect": returns the provider authorization URL we were redirected to."""
    token = csrf_token_from(client.get("/connections/").get_data(as_text=True))
    response = client.post(f"/connections/{provider}/connect", data={"csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)
    return response.location


def authorize(authorization_url, email, decision="allow"):
    """The user's decision at the provider (the emulator's automatic consent): the callback path + query."""
    response = requests.get(
        authorization_url + "&" + urlencode({"login_hint": email, "emulator_auto": decision}),
        allow_redirects=False, timeout=10,
    )
    assert response.status_code in (302, 303), response.text
    location = urlsplit(response.headers["Location"])
    return f"{location.path}?{location.query}"


def query_of(url):
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


def audit_rows(session, action: str) -> list[AuditLog]:
    return list(session.scalars(select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.created_at)))


PHONE = {"width": 390, "height": 844}

DESKTOP = {"width": 1280, "height": 800}


def submit_login(page, base: str, email: str, password: str = PASSWORD) -> None:
    """Fill in and send the sign-in form; the caller waits for what should follow."""
    page.goto(f"{base}/login")
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("button[type=submit]")


def log_in(page, base: str, email: str) -> None:
    """Sign in with the test password and wait until the calendar is usable."""
    page.set_default_timeout(10_000)
    submit_login(page, base, email)
    page.wait_for_selector("#calendar")
    page.wait_for_load_state("load")  # htmx binds the links once the document has loaded


def checkout_environment(instance_dir, **settings: str) -> dict[str, str]:
    """A shell in a fresh checkout whose local default lives in `instance_dir`: nothing of the test process's own
    set-up (the launcher and `flask` must find their own; the sandbox allows oauthlib plain http itself)."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY",
                                                           "TOKEN_ENCRYPTION_KEYS", "OAUTHLIB_INSECURE_TRANSPORT")}
    return env | {"ALMANAC_INSTANCE_DIR": str(instance_dir), **settings}


def start_launcher(instance_dir, port, **settings: str):
    """`make run`'s launcher (`python -m local`) in its own process, on its own instance folder: embedded PostgreSQL
    and Redis, and the sandbox emulators, as on a fresh machine. `settings`: environment variables it adds."""
    return subprocess.Popen([sys.executable, "-m", "local"], cwd=PROJECT_ROOT,
                            env=checkout_environment(instance_dir, PORT=str(port), **settings),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


FLASK = str(Path(sys.executable).parent / "flask")


def flask_command(instance_dir, *args: str, input: str | None = None) -> subprocess.CompletedProcess:
    """`flask ARGS` typed in the checkout, its local default in `instance_dir`; standard input is `input`."""
    return subprocess.run([FLASK, *args], cwd=PROJECT_ROOT, env=checkout_environment(instance_dir), input=input,
                          capture_output=True, text=True, timeout=120)


def flask_command_at_a_terminal(instance_dir, *args: str, answers: list[str], timeout: float = 120) -> str:
    """`flask ARGS` with a terminal for standard input, typing each answer once it asks: getpass writes its prompt
    to stderr after switching echo off, which discards what was typed before. Returns stdout; fails on an error."""
    import pty
    import select

    primary, secondary = pty.openpty()
    # A new session has no controlling terminal, so getpass reads the terminal on standard input.
    process = subprocess.Popen([FLASK, *args], cwd=PROJECT_ROOT, env=checkout_environment(instance_dir),
                               stdin=secondary, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    os.close(secondary)
    deadline = time.monotonic() + timeout
    try:
        for answer in answers:
            asked = b""
            while not asked.endswith(b" "):  # a byte of the prompt ("Password: "): echo is off by then
                ready, _, _ = select.select([process.stderr], [], [], max(0.0, deadline - time.monotonic()))
                byte = os.read(process.stderr.fileno(), 1) if ready else b""
                assert byte, f"the command did not ask: {asked!r}"
                asked += byte
            os.write(primary, answer.encode() + b"\n")
        stdout, stderr = process.communicate(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(primary)
    assert process.returncode == 0, (stdout + stderr).decode()
    return stdout.decode()


def wait_for(condition, timeout: float, what: str = "the condition", *, tolerate: tuple = ()):
    """Ask `condition()` every 50 ms until it returns something true, and return that. An exception listed in
    `tolerate` counts as "not yet" (a server still starting); anything else fails the test at once."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = condition()
            if value:
                return value
        except tolerate:
            pass
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        time.sleep(0.05)


def seconds_until(condition, timeout: float, what: str = "the condition", *, tolerate: tuple = ()) -> float:
    """How long `wait_for` waited."""
    started = time.monotonic()
    wait_for(condition, timeout, what, tolerate=tolerate)
    return time.monotonic() - started


def has_word_from_server(dbapi_connection) -> bool:
    """Whether an idle database connection's socket has something to read: the server's goodbye (a FATAL message, or
    the end of the stream) when it ended the session. The same test the pool makes at checkout."""
    return bool(select_module.select([dbapi_connection.fileno()], [], [], 0)[0])


# Where the sample jobs the worker tests enqueue (rq_sample_jobs) live.
RQ_SAMPLE_JOBS = PROJECT_ROOT / "tests" / "ops"


def spawn_worker(redis_url: str, *queues: str, options: tuple[str, ...] = ()) -> subprocess.Popen:
    """The worker as the Procfile starts it (plus `options`), able to import the sample jobs."""
    env = os.environ | {"PYTHONPATH": os.pathsep.join((str(RQ_SAMPLE_JOBS), str(PROJECT_ROOT)))}
    return subprocess.Popen([sys.executable, "-m", "jobs.worker", "--url", redis_url, *options, *queues], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=PROJECT_ROOT)


def stop_worker(worker: subprocess.Popen) -> None:
    if worker.poll() is None:
        for child in psutil.Process(worker.pid).children(recursive=True):
            child.kill()
        worker.kill()
        worker.wait()


def wait_until_started(job, timeout: float = 20) -> None:
    wait_for(lambda: job.get_status(refresh=True) == JobStatus.STARTED, timeout, "the worker starting the job")


def event_form(csrf, **fields) -> dict:
    """The new-event form as a browser posts it: a one-hour "Dentist" on 6 March 2024, with `fields` over it
    (None leaves a field out)."""
    values = {"csrf_token": csrf, "title": "Dentist", "start_date": "2024-03-06", "start_time": "09:00",
              "end_date": "2024-03-06", "end_time": "10:00", "time_zone": "UTC", "view": "week", "repeat": "",
              "interval": "1", "ends": "never"}
    values.update(fields)
    return {key: value for key, value in values.items() if value is not None}


def graph_event(subject: str, start: datetime, **extra) -> dict:
    as_graph = lambda moment: {"dateTime": moment.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"}  # noqa: E731
    return {"subject": subject, "start": as_graph(start), "end": as_graph(start + timedelta(hours=1)), **extra}


def ics(*components: str) -> str:
    return "\r\n".join(["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Test//EN", *components, "END:VCALENDAR"]) + "\r\n"


def put_caldav_event(provider_servers, url, name, body):
    path = urlsplit(url).path
    put_event(provider_servers.radicale.url, *APPLE_USER, path, name, body)


def marked(html: str) -> dict[str, int]:
    """Title of each event that carries a double-booking mark -> how many events it overlaps."""
    found = {}
    for element in re.findall(r'<a class="event[^"]*".*?</a>', html, re.S):
        mark = re.search(r'data-overlaps="(\d+)"', element)
        if mark:
            found[re.search(r'class="event-title"[^>]*>([^<]*)<', element).group(1)] = int(mark.group(1))
    return found


@contextmanager
def sent_statements(target):
    """Every SQL statement, with its parameters, that `target` (an engine or a connection) sends in the block."""
    sent: list[tuple[str, object]] = []

    def remember(conn, cursor, statement, parameters, context, executemany):
        sent.append((statement, parameters))

    event.listen(target, "before_cursor_execute", remember)
    try:
        yield sent
    finally:
        event.remove(target, "before_cursor_execute", remember)


# ---- the local launcher (`make run`) in tests


def wait_until_up(launcher, port, timeout=60.0) -> float:
    def login_page_answers() -> bool:
        assert launcher.poll() is None, launcher.stdout.read()
        return requests.get(f"http://127.0.0.1:{port}/login", timeout=10).status_code == 200

    return seconds_until(login_page_answers, timeout, "the app coming up",
                         tolerate=(requests.ConnectionError, requests.Timeout))


def process_tree(pid) -> list[psutil.Process]:
    return psutil.Process(pid).children(recursive=True)


def clean_up_after_failure(launcher) -> None:
    """A failed test leaves nothing running: Ctrl-C lets the launcher stop its processes and the embedded
    servers; whatever is still there after that is killed."""
    descendants = process_tree(launcher.pid) if launcher.poll() is None else []
    launcher.send_signal(signal.SIGINT)
    try:
        launcher.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        launcher.kill()
    for process in psutil.wait_procs(descendants, timeout=5)[1]:
        process.kill()


def stop_with_ctrl_c(launcher, descendants):
    launcher.send_signal(signal.SIGINT)
    output, _ = launcher.communicate(timeout=30)
    assert launcher.returncode == 0, output
    gone, alive = psutil.wait_procs(descendants, timeout=5)
    assert alive == [], f"orphans left: {[p.pid for p in alive]}"
    return output


def wait_for_mailed_link(browser, port, timeout=30.0) -> str:
    def mailed_link() -> str | None:
        outbox = browser.get(f"http://127.0.0.1:{port}/dev/outbox").text
        match = re.search(r'href="(http://127\.0\.0\.1:\d+/register/confirm\?token=[^"]+)"', outbox)
        return match and match.group(1).replace("&amp;", "&")

    return wait_for(mailed_link, timeout, "a sign-up mail in the local outbox")

