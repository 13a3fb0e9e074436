"""`make run`: the local default. Starts embedded PostgreSQL and Redis when DATABASE_URL / REDIS_URL are unset,
applies migrations, and runs the Procfile's web, worker and scheduler processes until Ctrl-C.
"""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sandbox import run as sandbox
from webapp.config import INSTANCE_DIR, PROJECT_ROOT, instance_secret
from webapp.embedded import start_postgres, start_redis

BIN = Path(sys.executable).parent
STOP_GRACE_SECONDS = 10


def local_environment(instance_dir: Path = INSTANCE_DIR) -> tuple[dict[str, str], list]:
    """The environment the processes run with, and the embedded servers started for it."""
    env = dict(os.environ)
    started: list = []
    if not env.get("DATABASE_URL"):
        postgres = start_postgres(instance_dir / "postgres")
        started.append(postgres)
        env["DATABASE_URL"] = postgres.url()
        # Generated once and kept: a deployment with its own DATABASE_URL must bring its own secrets.
        env.setdefault("SECRET_KEY", instance_secret("secret_key", directory=instance_dir))
        env.setdefault("TOKEN_ENCRYPTION_KEYS", "local:" + instance_secret("token_key", directory=instance_dir))
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
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["FLASK_APP"] = "wsgi"
    env["PYTHONUNBUFFERED"] = "1"
    return env, started


def procfile_processes(procfile: Path = PROJECT_ROOT / "Procfile") -> dict[str, str]:
    """The Procfile's long-running processes: the same commands a deployment runs."""
    processes = {}
    for line in procfile.read_text().splitlines():
        name, _, command = line.partition(":")
        if command and name.strip() != "release":
            processes[name.strip()] = command.strip()
    return processes


def run() -> int:
    # ALMANAC_INSTANCE_DIR lets tests run a second, throwaway local default beside a developer's own.
    env, servers = local_environment(Path(os.environ.get("ALMANAC_INSTANCE_DIR", INSTANCE_DIR)))
    children: dict[str, subprocess.Popen] = {}
    stopping = False

    def request_stop(signum, _frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        subprocess.run([str(BIN / "flask"), "db", "upgrade"], env=env, cwd=PROJECT_ROOT, check=True)  # noqa: S603
        for name, command in procfile_processes().items():
            # Own session: Ctrl-C reaches only us, and we stop the children in order.
            children[name] = subprocess.Popen(  # noqa: S602 - our own Procfile line
                command, shell=True, env=env, cwd=PROJECT_ROOT, start_new_session=True
            )
        print(f"\n  Almanac is running at http://127.0.0.1:{env['PORT']}/  (Ctrl-C stops everything)", flush=True)
        if env.get("ALMANAC_SANDBOX"):
            print("  Sandbox mode: Google, Microsoft and iCloud are local stand-ins with sample calendars.\n"
                  f"  iCloud sandbox login: {env['APPLE_SANDBOX_USER']} / {env['APPLE_SANDBOX_PASSWORD']}\n",
                  flush=True)
        while not stopping:
            exited = [name for name, child in children.items() if child.poll() is not None]
            if exited:
                print(f"process {exited[0]} exited with {children[exited[0]].returncode}; stopping", flush=True)
                return 1
            time.sleep(0.3)
        return 0
    except subprocess.CalledProcessError as error:
        print(f"start-up failed: {' '.join(error.cmd[:3])} exited with {error.returncode}", flush=True)
        return 1
    finally:
        stop_children(children)
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


if __name__ == "__main__":
    sys.exit(run())
