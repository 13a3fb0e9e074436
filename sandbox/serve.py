"""Serve a WSGI app on a free loopback port in a background thread."""
from __future__ import annotations

import threading
from dataclasses import dataclass

from werkzeug.serving import BaseWSGIServer, make_server


@dataclass
class RunningServer:
    url: str  # base URL without a trailing slash, e.g. "http://127.0.0.1:53211"
    server: BaseWSGIServer
    thread: threading.Thread

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


# How often the serving loop looks whether stop() was called: socketserver's default, half a second, is what every
# stop() waited, and the tests start and stop a server for each test that serves the app.
STOP_POLL_SECONDS = 0.05


def serve_in_thread(app, host: str = "127.0.0.1", port: int = 0) -> RunningServer:
    server = make_server(host, port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": STOP_POLL_SECONDS},
                              name=f"wsgi-{server.port}", daemon=True)
    thread.start()
    return RunningServer(url=f"http://{host}:{server.port}", server=server, thread=thread)
