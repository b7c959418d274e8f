"""Local targets for probe tests: an HTTP(S) server with misbehaving routes, on 127.0.0.1.

A threaded server, so that a route that hangs or streams forever never blocks the event
loop of the probe under test. Routes:

- ``/json``: 200, ``JSON_BODY``: ``{"data": {"status": "up", "lag": 3, ...}}``
- ``/status/<code>``: that status, empty body
- ``/page``: 200, a text page with a keyword in it
- ``/huge``: 200, ``HUGE_BYTES`` bytes streamed in chunks (``needle`` at the very end)
- ``/hang``: never answers; ``hanging`` counts requests parked there with an open socket
- ``/slow``: 200 after ``SLOW_S`` seconds
- ``/redirect``: 302 to ``/json``
- ``/echo``: 200, the request's method, headers and body as JSON
- ``/not-json``: 200, text that is no JSON
"""

from __future__ import annotations

import json
import select
import socket
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

__all__ = [
    "HUGE_BYTES",
    "JSON_BODY",
    "JSON_DOCUMENT",
    "LOOPBACK",
    "SLOW_S",
    "HttpTarget",
    "closed_port",
]

LOOPBACK = "127.0.0.1"
HUGE_BYTES = 50 * 1024 * 1024
SLOW_S = 0.3
JSON_DOCUMENT: dict[str, Any] = {
    "data": {
        "status": "up",
        "lag": 3,
        "open": True,
        "items": [{"status": "ok"}, {"status": "stale"}],
    }
}
JSON_BODY = json.dumps(JSON_DOCUMENT).encode()
_CHUNK = b"x" * 65_536


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    timeout = 10  # an idle keep-alive connection frees its thread eventually

    def _reply(self, status: int, body: bytes = b"", content_type: str = "text/plain") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        request_body = self.rfile.read(length) if length else b""
        path = self.path.split("?", 1)[0]
        if path == "/json":
            self._reply(200, JSON_BODY, "application/json")
        elif path.startswith("/status/"):
            self._reply(int(path.removeprefix("/status/")))
        elif path == "/page":
            self._reply(200, b"<html><body>Market is OPEN</body></html>", "text/html")
        elif path == "/huge":
            self._huge()
        elif path == "/hang":
            self._hang()
        elif path == "/slow":
            time.sleep(SLOW_S)
            self._reply(200, b"finally")
        elif path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/json")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif path == "/echo":
            echo = {
                "method": self.command,
                "headers": {name.lower(): value for name, value in self.headers.items()},
                "body": request_body.decode(),
            }
            self._reply(200, json.dumps(echo).encode(), "application/json")
        elif path == "/not-json":
            self._reply(200, b"<html>surely not json</html>", "text/html")
        else:
            self._reply(404)

    # BaseHTTPRequestHandler dispatches on these names.
    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _dispatch  # noqa: N815

    def _huge(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(HUGE_BYTES))
        self.end_headers()
        tail = b"needle"
        sent = 0
        try:
            while sent < HUGE_BYTES - len(tail):
                chunk = _CHUNK[: HUGE_BYTES - len(tail) - sent]
                self.wfile.write(chunk)
                sent += len(chunk)
                self.server.owner.add_huge_sent(len(chunk))
            self.wfile.write(tail)
        except OSError:  # the client stopped reading and closed: what a capped read does
            self.close_connection = True

    def _hang(self) -> None:
        owner = self.server.owner
        owner.hanging_changed(+1)
        try:
            # Answer nothing; notice when the client gives up and closes the socket.
            while not owner.stopping.is_set():
                readable, _, _ = select.select([self.connection], [], [], 0.02)
                if readable and not self.connection.recv(1, socket.MSG_PEEK):
                    break
        except (OSError, ValueError):  # reset by the client; ValueError: MSG_PEEK over TLS
            pass
        finally:
            owner.hanging_changed(-1)
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Keep the test output clean."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, owner: HttpTarget, tls: ssl.SSLContext | None) -> None:
        super().__init__((LOOPBACK, 0), _Handler)
        self.owner = owner
        self.tls = tls

    def finish_request(self, request: Any, client_address: Any) -> None:
        # The TLS handshake runs here, in the request's thread, not in the accept loop.
        if self.tls is None:
            super().finish_request(request, client_address)
            return
        request.settimeout(10)
        try:
            tls_socket = self.tls.wrap_socket(request, server_side=True)
        except OSError:  # the client refused our certificate: what some tests want
            return
        with tls_socket:
            super().finish_request(tls_socket, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet: clients in these tests drop connections on purpose."""


class HttpTarget:
    """A local HTTP server (HTTPS with ``tls``) in a background thread."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._hanging = 0
        self._hang_requests = 0
        self._huge_sent = 0
        self._server = _Server(self, tls)
        self._scheme = "https" if tls is not None else "http"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def port(self) -> int:
        """Return the port the server listens on."""
        port: int = self._server.server_address[1]
        return port

    def url(self, path: str = "/") -> str:
        """Return the URL of ``path`` on this server."""
        return f"{self._scheme}://{LOOPBACK}:{self.port}{path}"

    @property
    def hanging(self) -> int:
        """Return how many requests sit in ``/hang`` with their connection open."""
        with self._lock:
            return self._hanging

    @property
    def hang_requests(self) -> int:
        """Return how many requests ever reached ``/hang``."""
        with self._lock:
            return self._hang_requests

    @property
    def huge_sent(self) -> int:
        """Return how many bytes of ``/huge`` bodies the server managed to send."""
        with self._lock:
            return self._huge_sent

    def hanging_changed(self, delta: int) -> None:
        """Count a request entering (+1) or leaving (-1) ``/hang``."""
        with self._lock:
            self._hanging += delta
            self._hang_requests += max(delta, 0)

    def add_huge_sent(self, size: int) -> None:
        """Count bytes of a ``/huge`` body sent."""
        with self._lock:
            self._huge_sent += size

    def start(self) -> None:
        """Serve in the background."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving, release parked handlers, close the listening socket."""
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def closed_port() -> int:
    """Return a loopback port that nothing listens on (it was bound a moment ago)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
    return port
