"""`make run`'s launcher: embedded PostgreSQL and Redis, migrations, web + worker + scheduler, clean Ctrl-C."""
from __future__ import annotations

import re
import signal
import subprocess
import time

import psutil
import pytest
import requests

from tests.helpers import csrf_token_from, free_port, start_launcher

pytestmark = pytest.mark.slow


def wait_until_up(launcher, port, timeout=60.0) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        assert launcher.poll() is None, launcher.stdout.read()
        try:
            if requests.get(f"http://127.0.0.1:{port}/login", timeout=10).status_code == 200:
                return time.monotonic() - started
        except (requests.ConnectionError, requests.Timeout):
            pass
        time.sleep(0.2)
    raise AssertionError("the app did not come up")


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
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        outbox = browser.get(f"http://127.0.0.1:{port}/dev/outbox").text
        match = re.search(r'href="(http://127\.0\.0\.1:\d+/register/confirm\?token=[^"]+)"', outbox)
        if match:
            return match.group(1).replace("&amp;", "&")
        time.sleep(0.3)
    raise AssertionError("no sign-up mail reached the local outbox")



def test_run_starts_everything_keeps_data_and_stops_cleanly(tmp_path):
    instance, port = tmp_path / "instance", free_port()
    launcher = start_launcher(instance, port)
    try:
        wait_until_up(launcher, port, timeout=90)
        names = " ".join(" ".join(p.cmdline()) for p in process_tree(launcher.pid))
        assert "gunicorn" in names and "jobs.worker" in names and "jobs.scheduler" in names
        assert "postgres" in names or (instance / "postgres" / "postmaster.pid").exists()
        browser = requests.Session()
        token = csrf_token_from(browser.get(f"http://127.0.0.1:{port}/register").text)
        response = browser.post(f"http://127.0.0.1:{port}/register", data={
            "email": "first@example.com", "password": "a fine passphrase", "confirm": "a fine passphrase",
            "csrf_token": token})
        assert response.status_code == 200 and "Check your inbox" in response.text
        link = wait_for_mailed_link(browser, port)  # the worker sends it to the local outbox
        confirm = browser.get(link)
        response = browser.post(f"http://127.0.0.1:{port}/register/confirm", data={
            "token": re.search(r'name="token" type="hidden" value="([^"]+)"', confirm.text).group(1),
            "csrf_token": csrf_token_from(confirm.text)})
        assert response.status_code == 200 and "Hello" in response.text
        descendants = process_tree(launcher.pid)
    except BaseException:
        clean_up_after_failure(launcher)
        raise
    output = stop_with_ctrl_c(launcher, descendants)
    assert "stopped" in output and "Running upgrade" in output
    assert not (instance / "postgres" / "postmaster.pid").exists()
    assert (instance / "secret_key").exists() and (instance / "token_key").exists()
    cluster = (instance / "postgres" / "PG_VERSION").stat()

    # The second start reuses the data directory, migrations are already applied, and the account survived.
    launcher = start_launcher(instance, port)
    try:
        wait_until_up(launcher, port, timeout=90)
        browser = requests.Session()
        token = csrf_token_from(browser.get(f"http://127.0.0.1:{port}/login").text)
        response = browser.post(f"http://127.0.0.1:{port}/login", data={
            "email": "first@example.com", "password": "a fine passphrase", "csrf_token": token})
        assert "Hello" in response.text
        descendants = process_tree(launcher.pid)
    except BaseException:
        clean_up_after_failure(launcher)
        raise
    output = stop_with_ctrl_c(launcher, descendants)
    # No new cluster (initdb) and no migration ran again.
    assert (instance / "postgres" / "PG_VERSION").stat().st_ino == cluster.st_ino
    assert "stopped" in output and "Running upgrade" not in output
