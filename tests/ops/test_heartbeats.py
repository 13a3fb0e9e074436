"""Web, worker and scheduler processes report heartbeats; /admin/health lists them and names a role with none."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

from local.embedded import EmbeddedRedis
from tests.factories import build_app
from tests.helpers import wait_for
from webapp import heartbeat
from webapp.extensions import connect_redis
from webapp.heartbeat import KEY_PREFIX, beat, read_heartbeats


def rows(html: str) -> dict[str, str]:
    """data-role → data-state for each process row."""
    table = html[html.index('id="process-heartbeats"'):]
    table = table[:table.index("</table>")]
    found = {}
    for chunk in table.split("<tr data-role=")[1:]:
        role = chunk.split('"')[1]
        state = chunk.split('data-state="')[1].split('"')[0]
        pid = chunk.split('data-pid="')[1].split('"')[0]
        found[f"{role}:{pid}"] = state
    return found


def write_old_beat(redis, role: str, pid: int, silent: timedelta) -> None:
    moment = datetime.now(UTC) - silent
    redis.set(f"{KEY_PREFIX}{role}:otherhost:{pid}", json.dumps({
        "role": role, "host": "otherhost", "pid": pid, "started_at": (moment - timedelta(hours=1)).isoformat(),
        "beat_at": moment.isoformat(), "detail": ""}), ex=600)


def test_health_page_lists_live_and_silent_processes_and_missing_roles(admin_client, redis):
    started = datetime.now(UTC) - timedelta(minutes=3)
    beat(redis, "worker", started_at=started, detail="busy: sync-connection-42")
    write_old_beat(redis, "worker", 4242, silent=timedelta(minutes=2))
    write_old_beat(redis, "scheduler", 4343, silent=timedelta(minutes=5))

    html = admin_client.get("/admin/health").get_data(as_text=True)
    assert rows(html) == {f"worker:{os.getpid()}": "alive", "worker:4242": "silent", "scheduler:4343": "silent"}
    assert "busy: sync-connection-42" in html and "last heard 2 min" in html
    # No live scheduler (its only heartbeat is five minutes old) and no web process: both called out.
    assert 'data-missing-role="scheduler"' in html and "No scheduler is running" in html
    assert 'data-missing-role="web"' in html
    assert 'data-missing-role="worker"' not in html


def test_a_process_of_this_host_that_is_gone_shows_as_exited_at_once(admin_client, redis):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    beat(redis, "worker", started_at=datetime.now(UTC))  # this process: alive
    redis.set(f"{KEY_PREFIX}scheduler:{socket.gethostname()}:{gone.pid}", json.dumps({
        "role": "scheduler", "host": socket.gethostname(), "pid": gone.pid, "detail": "",
        "started_at": datetime.now(UTC).isoformat(), "beat_at": datetime.now(UTC).isoformat()}))
    html = admin_client.get("/admin/health").get_data(as_text=True)
    assert rows(html) == {f"worker:{os.getpid()}": "alive", f"scheduler:{gone.pid}": "exited"}
    assert 'data-missing-role="scheduler"' in html


def test_with_no_heartbeats_every_role_is_called_out(admin_client, redis):
    html = admin_client.get("/admin/health").get_data(as_text=True)
    assert 'id="process-heartbeats"' not in html
    for role in ("web", "worker", "scheduler"):
        assert f'data-missing-role="{role}"' in html
    assert "No worker is running: syncs, pushes and maintenance jobs are waiting in the queue." in html



def test_a_serving_web_process_beats_and_carries_on_after_redis_comes_back_empty(
        app, redis_server: EmbeddedRedis, monkeypatch):
    monkeypatch.setattr(heartbeat, "BEAT_SECONDS", 0.2)
    served = build_app(app.config["SQLALCHEMY_DATABASE_URI"], redis_server.url, TESTING=False)
    client = connect_redis(redis_server.url, timeout=1)
    assert read_heartbeats(client) == []  # building the app alone starts nothing
    assert served.test_client().get("/healthz").status_code == 200
    [web] = wait_for(lambda: read_heartbeats(client), 5, "a heartbeat")
    assert (web.role, web.pid, web.host) == ("web", os.getpid(), socket.gethostname())
    assert served.test_client().get("/healthz").status_code == 200
    assert len(read_heartbeats(client)) == 1  # one thread per process, however many requests

    redis_server.process.kill()
    redis_server.process.wait()
    time.sleep(0.5)  # a few beats fail meanwhile
    redis_server.restart()  # without persistence: empty
    [again] = wait_for(lambda: read_heartbeats(client), 5, "a heartbeat")
    assert again.pid == web.pid and again.started_at == web.started_at and again.beat_at > web.beat_at
