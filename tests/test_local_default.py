"""`make run`'s launcher: embedded PostgreSQL and Redis, migrations, web + worker + scheduler, clean Ctrl-C; and `flask`
commands that find the same local default, beside it and without it."""
from __future__ import annotations

import re

import pytest
import requests
from redis import Redis

from local.embedded import redis_socket_path, running_redis_url
from tests.helpers import (
    clean_up_after_failure,
    csrf_token_from,
    flask_command,
    flask_command_at_a_terminal,
    free_port,
    process_tree,
    start_launcher,
    stop_with_ctrl_c,
    wait_for,
    wait_for_mailed_link,
    wait_until_up,
)

pytestmark = pytest.mark.slow


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
        assert response.status_code == 200 and "Welcome" in response.text
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
        assert "Welcome" in response.text
        descendants = process_tree(launcher.pid)
    except BaseException:
        clean_up_after_failure(launcher)
        raise
    output = stop_with_ctrl_c(launcher, descendants)
    # No new cluster (initdb) and no migration ran again.
    assert (instance / "postgres" / "PG_VERSION").stat().st_ino == cluster.st_ino
    assert "stopped" in output and "Running upgrade" not in output


def embedded_servers(instance) -> set[int]:
    """The pids of the PostgreSQL and Redis servers running on `instance`."""
    postmaster = instance / "postgres" / "postmaster.pid"
    pids = {int(postmaster.read_text().split()[0])} if postmaster.exists() else set()
    if running_redis_url(instance / "redis"):  # redis-server rewrites its command line: ask it instead
        pids.add(Redis(unix_socket_path=str(redis_socket_path(instance / "redis"))).info("server")["process_id"])
    return pids


def signed_in(port, email, password) -> requests.Session:
    browser = requests.Session()
    token = csrf_token_from(browser.get(f"http://127.0.0.1:{port}/login", timeout=10).text)
    response = browser.post(f"http://127.0.0.1:{port}/login", timeout=30, allow_redirects=False,
                            data={"email": email, "password": password, "csrf_token": token})
    assert response.status_code == 302, response.text
    return browser


def is_signed_in(browser, port) -> bool:
    return browser.get(f"http://127.0.0.1:{port}/settings/sessions", timeout=10, allow_redirects=False).status_code \
        == 200


def test_flask_commands_use_the_local_default_beside_make_run_and_without_it(tmp_path):
    """No DATABASE_URL, REDIS_URL or keys set: `flask users …` reach the PostgreSQL and Redis `make run` serves,
    leave them running, and with `make run` stopped start them and stop them again."""
    instance, port = tmp_path / "instance", free_port()
    launcher = start_launcher(instance, port)
    try:
        wait_until_up(launcher, port, timeout=90)
        servers = embedded_servers(instance)
        assert len(servers) == 2

        created = flask_command(instance, "users", "create", "owner@example.com", "--admin", "--name", "Olive Owner",
                                input="a fine passphrase\n")
        assert created.returncode == 0 and "Created the admin owner@example.com" in created.stdout, created.stderr
        typed = flask_command_at_a_terminal(instance, "users", "create", "member@example.com",
                                            answers=["another passphrase", "another passphrase"])
        assert "Created member@example.com" in typed
        owner = signed_in(port, "owner@example.com", "a fine passphrase")
        member = signed_in(port, "member@example.com", "another passphrase")
        listing = flask_command(instance, "users", "list").stdout.splitlines()
        assert [line.split()[:5] for line in listing[1:]] == [
            ["member@example.com", "no", "no", listing[1].split()[3], listing[1].split()[4]],
            ["owner@example.com", "Olive", "Owner", "yes", "no"]]

        assert flask_command(instance, "users", "disable", "member@example.com").returncode == 0
        assert not is_signed_in(member, port) and is_signed_in(owner, port)
        assert flask_command(instance, "users", "enable", "member@example.com").returncode == 0
        member = signed_in(port, "member@example.com", "another passphrase")  # the throttle's Redis still answers

        last = flask_command(instance, "users", "revoke-admin", "owner@example.com")
        assert last.returncode == 1 and last.stderr == (
            "Error: owner@example.com is the last admin who can sign in: make another account an admin first.\n")
        assert flask_command(instance, "users", "make-admin", "member@example.com").returncode == 0
        assert flask_command(instance, "users", "revoke-admin", "owner@example.com").returncode == 0
        invited = flask_command(instance, "users", "invite", "friend@example.com")
        assert f"http://127.0.0.1:{port}/register/invitation?token=" in invited.stdout, invited.stderr
        assert flask_command(instance, "jobs", "schedule").stdout.startswith("schedule: added ")
        assert "Fill the database with demo users" in flask_command(instance, "demo-data", "--help").stdout
        assert embedded_servers(instance) == servers  # joined, never started a second or stopped them
        descendants = process_tree(launcher.pid)
    except BaseException:
        clean_up_after_failure(launcher)
        raise
    stop_with_ctrl_c(launcher, descendants)

    listing = flask_command(instance, "users", "list")
    assert listing.returncode == 0 and "member@example.com" in listing.stdout, listing.stderr
    wait_for(lambda: not embedded_servers(instance), 10, "the servers the command started stopping")
