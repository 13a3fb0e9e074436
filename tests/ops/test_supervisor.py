"""`make run`'s supervisor restarts a process that exits on its own, with a growing backoff and a line saying why,
and stops everything only when asked."""
from __future__ import annotations

import os
import signal
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import psutil
import psycopg
import pytest

from local.embedded import EmbeddedPostgres, start_postgres
from local.launcher import Supervisor, describe_exit
from tests.helpers import wait_for
from webapp.backoff import Backoff
from webapp.extensions import connect_redis


def supervise(supervisor: Supervisor, seconds: float) -> None:
    """Let the supervisor look every 50 ms for a while: for what must not happen meanwhile."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        supervisor.check()
        time.sleep(0.05)


def supervise_until(supervisor: Supervisor, condition, what: str, timeout: float = 30):
    """Let the supervisor look every 50 ms until `condition()` holds."""

    def looked_and_holds():
        supervisor.check()
        return condition()

    return wait_for(looked_and_holds, timeout, what)


def test_a_crashing_process_is_restarted_with_growing_delays_and_a_reason(capsys, tmp_path):
    starts = tmp_path / "starts"
    supervisor = Supervisor({"crashy": f"echo started >> {starts}; exit 3", "steady": "sleep 60"}, dict(os.environ))
    supervisor.start_all()
    steady = supervisor.children["steady"]
    started = time.monotonic()
    try:
        # Exits at ~0 s, ~1 s and ~3 s: waits of 1 s, then 2 s, then 4 s (the third wait is not over when it stops).
        supervise_until(supervisor, lambda: supervisor.restarts["crashy"] == 3, "the third exit of crashy")
        assert time.monotonic() - started >= 3  # the waits of 1 s and 2 s were waited
    finally:
        supervisor.stop()
    lines = [line for line in capsys.readouterr().out.splitlines() if "crashy exited" in line]
    assert [line.split("restarting in ")[1] for line in lines] == ["1 s (restart 1)", "2 s (restart 2)",
                                                                   "4 s (restart 3)"]
    assert "process crashy exited unexpectedly (exit code 3)" in lines[0]
    assert starts.read_text().count("started") == 3
    assert supervisor.children["steady"] is steady and supervisor.restarts["steady"] == 0  # the others: left alone
    assert steady.returncode is not None


def test_stop_ends_every_process_group_including_one_waiting_to_restart(tmp_path):
    supervisor = Supervisor({"crashy": "exit 1", "tree": "sleep 60 & sleep 60; wait"}, dict(os.environ))
    supervisor.start_all()
    supervise_until(supervisor, lambda: "crashy" in supervisor.restart_due, "crashy waiting to restart")
    tree = [supervisor.children["tree"].pid, *(child.pid for child in
                                               psutil.Process(supervisor.children["tree"].pid).children())]
    supervisor.stop()
    gone, alive = psutil.wait_procs([psutil.Process(pid) for pid in tree if psutil.pid_exists(pid)], timeout=5)
    assert alive == []
    waiting = supervisor.children["crashy"]
    supervise(supervisor, 1.5)
    assert supervisor.children["crashy"] is waiting  # once stopped, nothing is started again


def test_the_embedded_redis_is_restarted_in_place(capsys, redis_server):
    supervisor = Supervisor({}, dict(os.environ), {"Redis": redis_server})
    dead = redis_server.process
    dead.kill()
    dead.wait()
    supervise_until(supervisor, lambda: redis_server.process is not dead, "the embedded Redis started again")
    assert connect_redis(redis_server.url, timeout=1).ping()
    output = capsys.readouterr().out
    assert "embedded Redis exited unexpectedly (killed by SIGKILL)" in output and "restarting in 1 s" in output
    assert f"embedded Redis started again (pid {redis_server.process.pid})" in output


@pytest.mark.slow  # a real PostgreSQL SIGKILLed and started again: up to half a minute
def test_the_embedded_postgres_is_restarted_in_place_on_the_same_socket(capsys):
    with tempfile.TemporaryDirectory(prefix="almanac-supervised-") as root:
        postgres = start_postgres(Path(root) / "postgres", delete_on_stop=True)
        try:
            url, dead = postgres.url(), postgres.pid
            supervisor = Supervisor({}, dict(os.environ), {"PostgreSQL": postgres})
            os.kill(dead, signal.SIGKILL)  # the postmaster; its backends notice and leave
            said = []

            def restarted() -> bool:
                said.append(capsys.readouterr().out)
                return "embedded PostgreSQL started again" in "".join(said)

            supervise_until(supervisor, restarted, "the embedded PostgreSQL started again", 60)
            output = "".join(said)
            assert postgres.pid != dead and postgres.url() == url  # what the processes were given still works
            with psycopg.connect(url, connect_timeout=5) as connection:
                assert connection.execute("SELECT 1").fetchone() == (1,)
            assert "embedded PostgreSQL exited unexpectedly (it stopped)" in output
        finally:
            postgres.stop()


def test_a_half_written_postmaster_pid_is_a_start_in_progress(capsys, tmp_path):
    """PostgreSQL writes postmaster.pid line by line as it starts (the status line last); the supervisor once read
    it at that moment, crashed, and took all of `make run` down with it."""
    (tmp_path / "postmaster.pid").write_text(f"{os.getpid()}\n{tmp_path}\n1796496359\n5432\n\n\n  2183716  131089\n")
    postgres = EmbeddedPostgres(SimpleNamespace(pgdata=tmp_path))

    assert postgres.is_running()
    Supervisor({}, dict(os.environ), {"PostgreSQL": postgres}).check()
    assert "exited" not in capsys.readouterr().out


@pytest.mark.parametrize(("returncode", "text"), [
    (-9, "killed by SIGKILL"), (137, "killed by SIGKILL"), (143, "killed by SIGTERM"), (1, "exit code 1"),
    (0, "exit code 0"),
])
def test_exit_reasons(returncode, text):
    assert describe_exit(returncode) == text


def test_backoff_doubles_to_its_cap_and_starts_over_after_a_healthy_run():
    backoff = Backoff()
    assert [backoff.next_delay(ran_for=2) for _ in range(7)] == [1, 2, 4, 8, 16, 30, 30]
    assert backoff.next_delay(ran_for=61) == 1
    assert backoff.next_delay(ran_for=1) == 2
