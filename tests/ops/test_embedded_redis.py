"""The embedded Redis of `make run` keeps its data under instance/: an append-only file, fsynced every second,
survives SIGKILL; a data directory that only holds an older snapshot is carried over."""
from __future__ import annotations

from local.embedded import running_redis_url, start_redis
from tests.helpers import wait_for
from webapp.extensions import connect_redis


def test_data_survives_a_kill_and_a_snapshot_from_before_is_carried_over(tmp_path):
    data = tmp_path / "redis"
    legacy = start_redis(data, persist=False)  # a directory as the snapshot-only version left it
    client = connect_redis(legacy.url, timeout=1)
    client.set("queued-before-the-upgrade", "1")
    client.save()
    legacy.stop()
    assert (data / "redis.rdb").exists() and not (data / "appendonly.aof").exists()

    server = start_redis(data)
    try:
        client = connect_redis(server.url, timeout=1)
        assert client.get("queued-before-the-upgrade") == b"1"
        client.set("written-just-now", "2")
        # Written to the file (at most a second or two later, appendfsync everysec): what a kill cannot take back.
        wait_for(lambda: b"written-just-now" in (data / "appendonly.aof").read_bytes(), 10,
                 "the write in the append-only file")
        server.process.kill()  # no chance to save anything on the way out
        server.process.wait()
        server.restart()
        assert client.get("queued-before-the-upgrade") == b"1" and client.get("written-just-now") == b"2"
        assert (data / "appendonly.aof").exists()
    finally:
        server.stop()


def test_without_persistence_a_restart_is_empty(tmp_path):
    server = start_redis(tmp_path / "redis", persist=False)
    try:
        client = connect_redis(server.url, timeout=1)
        client.set("gone", "1")
        server.process.kill()
        server.process.wait()
        server.restart()
        assert client.get("gone") is None
    finally:
        server.stop()


def test_a_deep_checkouts_redis_is_found_again_by_its_data_folder(tmp_path):
    """Unix socket paths are limited to ~107 bytes: a deep checkout's socket is elsewhere, but where `flask`
    commands look for it, not in a folder only the starting process knows."""
    data = tmp_path / ("a-rather-deeply-nested-checkout-" * 3) / "instance" / "redis"
    assert running_redis_url(data) is None
    server = start_redis(data, persist=False)
    try:
        assert len(str(data / "redis.sock")) > 100 and server.socket_path != data / "redis.sock"
        assert running_redis_url(data) == server.url
        assert connect_redis(running_redis_url(data), timeout=1).ping()
    finally:
        server.stop()
    assert running_redis_url(data) is None
