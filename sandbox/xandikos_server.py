"""Run a real Xandikos CalDAV server on loopback (a second server beside Radicale, for the interop tests and bench).

Xandikos serves one user and leaves authentication to a proxy in front of it: it accepts whatever credentials
come. Its principal is /<user>/ with a default calendar at /<user>/calendars/calendar/ (and an address book, which
discovery must skip).
"""
from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from sandbox.radicale_server import _free_port

STARTUP_TIMEOUT_SECONDS = 20.0


@dataclass
class RunningXandikos:
    url: str  # e.g. "http://127.0.0.1:53211" (no trailing slash)
    user: str
    process: subprocess.Popen
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def calendar_url(self) -> str:
        return f"{self.url}/{self.user}/calendars/calendar/"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def start_xandikos(storage_dir: Path, user: str = "alice") -> RunningXandikos:
    """Start `python -m xandikos serve` on a free loopback port and wait until it answers."""
    storage_dir = Path(storage_dir)
    storage_dir.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    log_path = storage_dir / "xandikos.log"
    with log_path.open("ab") as log_file:
        process = subprocess.Popen(  # noqa: S603 - our interpreter, fixed arguments
            [sys.executable, "-m", "xandikos", "serve", "--directory", str(storage_dir / "data"), "--defaults",
             "--listen-address", "127.0.0.1", "--port", str(port), "--current-user-principal", f"/{user}/",
             "--no-detect-systemd", "--state-dir", str(storage_dir / "state")],
            stdout=log_file, stderr=subprocess.STDOUT)
    server = RunningXandikos(f"http://127.0.0.1:{port}", user, process, log_path)
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"Xandikos exited with code {process.returncode}; see {log_path}")
        try:
            if requests.request("PROPFIND", server.calendar_url, headers={"Depth": "0"}, timeout=1).status_code == 207:
                return server
        except requests.ConnectionError:
            pass
        if time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"Xandikos did not answer within {STARTUP_TIMEOUT_SECONDS:.0f} s; see {log_path}")
        time.sleep(0.05)
