"""Fake notification services on 127.0.0.1, speaking their wire formats.

One aiohttp server answers as:

- a Slack incoming webhook: ``POST /services/T../B../X..`` with JSON, ``200 ok``; errors
  as Slack sends them (``400 invalid_payload``, ``404 no_service``, ``429`` with
  ``Retry-After``);
- the Telegram Bot API: ``POST /bot<token>/sendMessage``, ``{"ok": true, "result": ...}``;
  errors ``{"ok": false, "error_code": N, "description": ...}``;
- Twilio: ``POST /2010-04-01/Accounts/<sid>/Messages.json`` and ``Calls.json``, form
  encoded, Basic auth of the account SID and token, ``201`` with the resource;
- PagerDuty Events v2: ``POST /v2/enqueue``, ``202 {"status": "success", "dedup_key"}``;
  an event that is not valid (no routing key, an unknown action, a trigger without
  ``payload.summary``/``source``/``severity``) is ``400 invalid event``;
- a Discord webhook: ``POST /api/webhooks/<id>/<token>`` with ``content`` or ``embeds``,
  ``204``; ``429`` with ``retry_after``;
- a generic webhook: any other ``POST`` (Apprise's ``json://`` and ``form://``).

A test scripts failures with ``fail(service, status, times=..., headers=...)`` (answered
in the service's own error shape) and ``hang(service)`` (accept and never answer until
``release()``). Every request is kept in ``requests`` (service, path, headers, body).
"""

from __future__ import annotations

import asyncio
import base64
import json
from dataclasses import dataclass, field
from typing import Any, Self
from urllib.parse import parse_qs

from aiohttp import web

__all__ = ["WireRequest", "WireServer"]

LOOPBACK = "127.0.0.1"
_PD_ACTIONS = {"trigger", "acknowledge", "resolve"}
_PD_SEVERITIES = {"critical", "error", "warning", "info"}


@dataclass(frozen=True)
class WireRequest:
    """One request as a service saw it."""

    service: str
    path: str
    headers: dict[str, str]
    body: Any  # parsed JSON, a form as {name: value}, or text


@dataclass
class _Failure:
    status: int
    times: int
    headers: dict[str, str]


@dataclass
class WireServer:
    """The fake services; ``url`` is ``http://127.0.0.1:<port>``."""

    requests: list[WireRequest] = field(default_factory=list)
    # PagerDuty events accepted (202): what the service would have turned into pages.
    accepted: list[WireRequest] = field(default_factory=list)
    port: int = 0
    _failures: dict[str, list[_Failure]] = field(default_factory=dict)
    _hanging: dict[str, asyncio.Event] = field(default_factory=dict)
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        """Return the server's base URL."""
        return f"http://{LOOPBACK}:{self.port}"

    def of(self, service: str) -> list[WireRequest]:
        """Return the requests one service got (failed ones included)."""
        return [request for request in self.requests if request.service == service]

    def fail(
        self, service: str, status: int, *, times: int = 1, headers: dict[str, str] | None = None
    ) -> None:
        """Answer the next ``times`` requests to ``service`` with ``status``."""
        self._failures.setdefault(service, []).append(_Failure(status, times, headers or {}))

    def hang(self, service: str) -> None:
        """Accept requests to ``service`` and answer none until ``release``."""
        self._hanging[service] = asyncio.Event()

    def release(self, service: str) -> None:
        """Let hung requests to ``service`` be answered (and answer new ones at once)."""
        event = self._hanging.pop(service, None)
        if event is not None:
            event.set()

    async def __aenter__(self) -> Self:
        app = web.Application()
        app.router.add_post("/services/{a}/{b}/{c}", self._slack)
        app.router.add_post("/bot{token}/{method}", self._telegram)
        app.router.add_post("/2010-04-01/Accounts/{sid}/{kind}", self._twilio)
        app.router.add_post("/v2/enqueue", self._pagerduty)
        app.router.add_post("/api/webhooks/{id}/{token}", self._discord)
        app.router.add_post("/{tail:.*}", self._webhook)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, LOOPBACK, 0)
        await site.start()
        server = site._server  # aiohttp keeps the bound socket here
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        for event in self._hanging.values():
            event.set()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _record(self, service: str, request: web.Request) -> tuple[Any, _Failure | None]:
        raw = await request.read()
        content_type = request.headers.get("Content-Type", "")
        body: Any
        if "json" in content_type:
            body = json.loads(raw or b"null")
        elif "form" in content_type:
            body = {key: values[-1] for key, values in parse_qs(raw.decode()).items()}
        else:
            body = raw.decode("utf-8", "replace")
        self.requests.append(WireRequest(service, request.path, dict(request.headers), body))
        hanging = self._hanging.get(service)
        if hanging is not None:
            await hanging.wait()
        queue = self._failures.get(service) or []
        if queue:
            failure = queue[0]
            failure.times -= 1
            if failure.times <= 0:
                queue.pop(0)
            return body, failure
        return body, None

    async def _slack(self, request: web.Request) -> web.Response:
        body, failure = await self._record("slack", request)
        if failure is not None:
            text = {400: "invalid_payload", 403: "action_prohibited", 404: "no_service"}
            return web.Response(
                status=failure.status,
                text=text.get(failure.status, "rollup_error"),
                headers=failure.headers,
            )
        if not isinstance(body, dict) or not any(
            body.get(part) for part in ("text", "blocks", "attachments")
        ):
            return web.Response(status=400, text="no_text")
        return web.Response(text="ok")

    async def _telegram(self, request: web.Request) -> web.Response:
        body, failure = await self._record("telegram", request)
        if failure is not None:
            error: dict[str, Any] = {
                "ok": False,
                "error_code": failure.status,
                "description": "Too Many Requests: retry after 3"
                if failure.status == 429
                else "Bad Request: chat not found",
            }
            if failure.status == 429:
                error["parameters"] = {"retry_after": 3}
            return web.json_response(error, status=failure.status, headers=failure.headers)
        chat = body.get("chat_id") if isinstance(body, dict) else None
        text = body.get("text") if isinstance(body, dict) else None
        result = {"message_id": len(self.requests), "chat": {"id": chat}, "text": text}
        return web.json_response({"ok": True, "result": result})

    async def _twilio(self, request: web.Request) -> web.Response:
        body, failure = await self._record("twilio", request)
        if failure is not None:
            return web.json_response(
                {"code": 20003, "message": "Authenticate", "status": failure.status},
                status=failure.status,
                headers=failure.headers,
            )
        scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
        sid = request.match_info["sid"]
        user = base64.b64decode(credentials).decode().partition(":")[0] if credentials else ""
        if scheme.lower() != "basic" or user != sid:
            return web.json_response({"code": 20003, "message": "Authenticate"}, status=401)
        kind = request.match_info["kind"]
        prefix = "CA" if kind == "Calls.json" else "SM"
        return web.json_response(
            {"sid": f"{prefix}{len(self.requests):032d}", "to": body.get("To"), "status": "queued"},
            status=201,
        )

    async def _pagerduty(self, request: web.Request) -> web.Response:
        body, failure = await self._record("pagerduty", request)
        if failure is not None:
            return web.json_response(
                {"status": "throttled" if failure.status == 429 else "error", "message": "x"},
                status=failure.status,
                headers=failure.headers,
            )
        errors = _pagerduty_errors(body)
        if errors:
            return web.json_response(
                {"status": "invalid event", "message": "Event object is invalid", "errors": errors},
                status=400,
            )
        self.accepted.append(WireRequest("pagerduty", request.path, dict(request.headers), body))
        return web.json_response(
            {"status": "success", "message": "Event processed", "dedup_key": body["dedup_key"]},
            status=202,
        )

    async def _discord(self, request: web.Request) -> web.Response:
        body, failure = await self._record("discord", request)
        if failure is not None:
            answer = {"message": "You are being rate limited.", "retry_after": 1.5, "global": False}
            return web.json_response(answer, status=failure.status, headers=failure.headers)
        if not isinstance(body, dict) or not (body.get("content") or body.get("embeds")):
            return web.json_response(
                {"message": "Cannot send an empty message", "code": 50006}, status=400
            )
        return web.Response(status=204)

    async def _webhook(self, request: web.Request) -> web.Response:
        _body, failure = await self._record("webhook", request)
        if failure is not None:
            return web.Response(status=failure.status, headers=failure.headers)
        return web.Response(text="ok")


def _pagerduty_errors(body: Any) -> list[str]:
    if not isinstance(body, dict):
        return ["body is not an object"]
    errors = []
    if not body.get("routing_key"):
        errors.append("'routing_key' is missing or blank")
    if body.get("event_action") not in _PD_ACTIONS:
        errors.append("'event_action' is invalid")
    if body.get("event_action") == "trigger":
        payload = body.get("payload") or {}
        errors.extend(
            f"'payload.{name}' is missing or blank"
            for name in ("summary", "source")
            if not payload.get(name)
        )
        if payload.get("severity") not in _PD_SEVERITIES:
            errors.append("'payload.severity' is invalid")
    elif not body.get("dedup_key"):
        errors.append("'dedup_key' is missing or blank")
    return errors
