"""Serving the registry: a tiny threaded HTTP server, or an ASGI app to mount.

Both use prometheus_client's exposition (the text format, or OpenMetrics when the scraper
asks for it in ``Accept``; gzip when accepted). Neither imports a web framework.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from prometheus_client import CollectorRegistry, make_asgi_app
from prometheus_client.exposition import choose_encoder, gzip_accepted

__all__ = ["HealthCheck", "MetricsServer", "metrics_asgi_app"]

log = logging.getLogger("tradewarden.guard.metrics")

HealthCheck = Callable[[], bool]
"""Return whether the bot is healthy; raising counts as unhealthy."""

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


def _healthy(check: HealthCheck | None) -> bool:
    if check is None:
        return True
    try:
        return bool(check())
    except Exception:
        log.exception("the health check raised")
        return False


def _exposition(
    registry: CollectorRegistry, accept: str, accept_encoding: str, query: str
) -> tuple[bytes, list[tuple[str, str]]]:
    encoder, content_type = choose_encoder(accept)
    names = parse_qs(query).get("name[]")
    output = encoder(registry.restricted_registry(names) if names else registry)
    headers = [("Content-Type", content_type)]
    if gzip_accepted(accept_encoding):
        import gzip

        output = gzip.compress(output)
        headers.append(("Content-Encoding", "gzip"))
    return output, headers


class MetricsServer:
    """``GET /metrics`` and ``GET /health`` on a daemon thread, 127.0.0.1 by default.

    ``port=0`` picks a free port (read ``port`` or ``url`` after ``start()``). ``/health``
    answers 200 ``{"status": "ok"}``, or 503 ``{"status": "unhealthy"}`` when ``health``
    returns false or raises. Use as a context manager, or ``start()`` and ``close()``.
    """

    def __init__(
        self,
        registry: CollectorRegistry,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        health: HealthCheck | None = None,
    ) -> None:
        self._registry = registry
        self._host = host
        self._requested_port = port
        self._health = health
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """Return the bound port (after ``start()``)."""
        if self._server is None:
            raise RuntimeError("the metrics server is not started")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """Return the base URL, e.g. ``http://127.0.0.1:9100``."""
        return f"http://{self._host}:{self.port}"

    def start(self) -> None:
        """Bind and serve in a daemon thread."""
        if self._server is not None:
            return
        server = ThreadingHTTPServer((self._host, self._requested_port), self._handler())
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, name="tradewarden-metrics", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        """Stop serving and release the port."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        registry, health = self._registry, self._health

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path == "/metrics":
                    body, headers = _exposition(
                        registry,
                        self.headers.get("Accept", ""),
                        self.headers.get("Accept-Encoding", ""),
                        parts.query,
                    )
                    self._reply(200, body, headers)
                elif parts.path == "/health":
                    ok = _healthy(health)
                    body = json.dumps({"status": "ok" if ok else "unhealthy"}).encode()
                    self._reply(200 if ok else 503, body, [("Content-Type", "application/json")])
                else:
                    self._reply(404, b"not found\n", [("Content-Type", "text/plain")])

            def _reply(self, status: int, body: bytes, headers: Iterable[tuple[str, str]]) -> None:
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                """Log nothing: a scrape every few seconds is not news."""

        return Handler


def metrics_asgi_app(
    registry: CollectorRegistry,
) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    """Return an ASGI app serving ``registry`` at whatever path it is mounted on.

    prometheus_client's ``make_asgi_app`` underneath, plus what it lacks to stand at the
    top of an app: the lifespan protocol, and 405 for methods other than GET.
    """
    inner = make_asgi_app(registry)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        if scope["method"] not in {"GET", "HEAD"}:
            await receive()
            await send(
                {
                    "type": "http.response.start",
                    "status": 405,
                    "headers": [(b"allow", b"GET"), (b"content-type", b"text/plain")],
                }
            )
            await send({"type": "http.response.body", "body": b"use GET\n"})
            return
        await inner(scope, receive, send)

    return app
