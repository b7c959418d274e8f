"""Pure ASGI middleware: request ids, the body size limit, HTTP metrics and access logs.

Written against raw ASGI rather than Starlette's BaseHTTPMiddleware, which adds a task and
a memory stream per request: the ``/health`` p99 budget is 5 ms.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from typing import Any

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tradewarden.telemetry import HttpMetrics

__all__ = ["BodyLimitMiddleware", "RequestContextMiddleware"]

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_log = structlog.stdlib.get_logger("tradewarden.http")


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    # Unmatched paths are one label value: a scanner must not explode the series count.
    return path if isinstance(path, str) else "<unmatched>"


class RequestContextMiddleware:
    """Give every request an id, bind it to the logs, count and time the request."""

    def __init__(self, app: ASGIApp, *, metrics: HttpMetrics, quiet_paths: frozenset[str]) -> None:
        self.app = app
        self.metrics = metrics
        self.quiet_paths = quiet_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming_request_id(scope) or secrets.token_hex(8)
        scope.setdefault("state", {})["request_id"] = request_id
        header = request_id.encode()
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", header))
                message = {**message, "headers": headers}
            await send(message)

        structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = _route_template(scope)
            method = scope["method"]
            self.metrics.requests.labels(method, route, str(status)).inc()
            self.metrics.duration.labels(method, route).observe(elapsed)
            if scope["path"] not in self.quiet_paths or status >= 400:
                _log.info(
                    "request",
                    method=method,
                    path=scope["path"],
                    route=route,
                    status=status,
                    duration_ms=round(elapsed * 1000, 3),
                )
            structlog.contextvars.unbind_contextvars("request_id")


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            candidate = value.decode("latin-1")
            return candidate if _REQUEST_ID.match(candidate) else None
    return None


class BodyLimitMiddleware:
    """Answer 413 to a body larger than ``max_bytes``, declared or streamed."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await _send_error(send, scope, 400, "bad_request", "invalid Content-Length")
                    return
                if declared > self.max_bytes:
                    await _send_error(send, scope, 413, "payload_too_large", self._message())
                    return
        received = 0
        started = False
        refused = False

        async def limited_receive() -> Message:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # Answer now and tell the app the client went away; whatever the app
                    # sends afterwards is dropped.
                    refused = True
                    if not started:
                        await _send_error(send, scope, 413, "payload_too_large", self._message())
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, limited_receive, guarded_send)

    def _message(self) -> str:
        return f"request body larger than {self.max_bytes} bytes"


async def _send_error(send: Send, scope: Scope, status: int, code: str, message: str) -> None:
    request_id = scope.get("state", {}).get("request_id")
    body: dict[str, Any] = {"error": {"code": code, "message": message}, "request_id": request_id}
    payload = json.dumps(body, separators=(",", ":")).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
