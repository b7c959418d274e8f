"""A loopback webhook receiver that fails first, then accepts some, then pauses.

Apprise's ``json://`` channels post ``{"title", "message", "type", ...}`` to
``/<channel>``. The receiver answers ``500`` for ``fail_s`` seconds from its first
request (the channel is down), then accepts ``accept`` requests with ``200``, then
answers ``503`` with ``Retry-After`` (so the warden releases every claim and waits)
until :meth:`Receiver.resume`, and ``200`` from then on. Only the ``200`` answers count
as delivered (``accepted``: the channel and the message body of each).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Self

from aiohttp import web

__all__ = ["Receiver", "serve_app"]

LOOPBACK = "127.0.0.1"


async def serve_app(app: web.Application) -> tuple[web.AppRunner, int]:
    """Serve ``app`` on a free loopback port; return its runner and the port."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, LOOPBACK, 0)
    await site.start()
    server = site._server  # aiohttp keeps the bound socket here
    assert server is not None
    return runner, server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]


@dataclass
class Receiver:
    """The webhook target; ``url_for(channel)`` is the Apprise URL of a channel."""

    fail_s: float
    accept: int
    retry_after_s: int = 3
    accepted: list[tuple[str, str]] = field(default_factory=list)
    failed: int = 0
    port: int = 0
    _first_at: float | None = None
    _resumed: bool = False
    _runner: web.AppRunner | None = None

    def url_for(self, channel: str) -> str:
        """Return the ``json://`` URL that posts to ``/<channel>`` here."""
        return f"json://{LOOPBACK}:{self.port}/{channel}"

    @property
    def paused(self) -> bool:
        """Whether the receiver now answers 503 (it accepted its first ``accept``)."""
        return not self._resumed and len(self.accepted) >= self.accept

    def resume(self) -> None:
        """Accept every request from now on."""
        self._resumed = True

    async def __aenter__(self) -> Self:
        app = web.Application()
        app.router.add_post("/{channel}", self._post)
        self._runner, self.port = await serve_app(app)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _post(self, request: web.Request) -> web.Response:
        body = json.loads(await request.read())
        now = asyncio.get_running_loop().time()
        if self._first_at is None:
            self._first_at = now
        if now < self._first_at + self.fail_s:
            self.failed += 1
            return web.Response(status=500, text="down")
        if self.paused:
            self.failed += 1
            return web.Response(
                status=503, text="busy", headers={"Retry-After": str(self.retry_after_s)}
            )
        self.accepted.append((request.match_info["channel"], str(body["message"]).strip()))
        return web.Response(status=200, text="ok")
