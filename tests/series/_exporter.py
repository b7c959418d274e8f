"""A loopback exporter for scrape tests: each path serves what the test sets, as aiohttp."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from aiohttp import web

__all__ = ["Exporter", "Route", "exporter"]


@dataclass
class Route:
    """What one path answers."""

    body: bytes = b""
    status: int = 200
    content_type: str = "text/plain; version=0.0.4"
    hang: bool = False
    requests: int = 0
    authorization: list[str | None] = field(default_factory=list)
    query: list[dict[str, str]] = field(default_factory=list)


@dataclass
class Exporter:
    """The running server: ``address`` is ``127.0.0.1:<port>``."""

    address: str
    routes: dict[str, Route]

    def route(self, path: str, body: str = "", **kwargs: object) -> Route:
        """Add or replace the route of ``path``."""
        route = Route(body=body.encode(), **kwargs)  # type: ignore[arg-type]
        self.routes[path] = route
        return route


@asynccontextmanager
async def exporter() -> AsyncIterator[Exporter]:
    """Serve on an ephemeral loopback port for the block."""
    routes: dict[str, Route] = {}
    release = asyncio.Event()

    async def handle(request: web.Request) -> web.StreamResponse:
        route = routes.get(request.path)
        if route is None:
            return web.Response(status=404)
        route.requests += 1
        route.authorization.append(request.headers.get("Authorization"))
        route.query.append(dict(request.query))
        if route.hang:
            await release.wait()
        return web.Response(
            body=route.body,
            status=route.status,
            headers={"Content-Type": route.content_type},
        )

    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", handle)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield Exporter(f"{host}:{port}", routes)
    finally:
        release.set()
        await runner.cleanup()
