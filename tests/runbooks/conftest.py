"""Fixtures for the runbook tests: real targets on loopback (an aiohttp server, the shared
PostgreSQL with a scratch table, Redis), and a runner wired to them."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
import pytest
import redis.asyncio as aioredis
from aiohttp import web

from tradewarden.runbooks import ConnectionConfig, RunbookRunner, RunbooksConfig

PG_ENV = "TW_RUNBOOK_TEST_PG_URL"
REDIS_ENV = "TW_RUNBOOK_TEST_REDIS_URL"
SHARED_REDIS = "redis://127.0.0.1:6379/0"


def postgres_admin_url() -> str:
    """The real PostgreSQL the suite runs against."""
    return os.environ.get("TW_TEST_DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/postgres"


@dataclass
class Target:
    """A local HTTP server; its routes answer as set in ``routes`` (path -> handler)."""

    url: str
    hits: list[str] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)


@pytest.fixture
async def target() -> AsyncIterator[Target]:
    hits: list[str] = []
    release = asyncio.Event()

    async def health(request: web.Request) -> web.Response:
        hits.append(f"{request.method} {request.path_qs} {request.headers.get('Authorization')}")
        return web.json_response({"status": "ok", "queue": request.query.get("queue")})

    async def broken(request: web.Request) -> web.Response:
        hits.append(f"{request.method} {request.path_qs}")
        return web.Response(status=503, text="database down")

    async def big(request: web.Request) -> web.Response:
        return web.Response(text="x" * 200_000)

    async def hang(request: web.Request) -> web.Response:
        hits.append(f"{request.method} {request.path_qs}")
        await release.wait()  # never set while the step waits: only the timeout ends it
        return web.Response(text="late")

    app = web.Application()
    app.router.add_get("/health", health)
    app.router.add_get("/broken", broken)
    app.router.add_get("/big", big)
    app.router.add_get("/hang", hang)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    found = Target(url=f"http://127.0.0.1:{port}", hits=hits, release=release)
    try:
        yield found
    finally:
        release.set()
        await runner.cleanup()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@dataclass(frozen=True)
class Scratch:
    """A scratch table (``table``, with a sequence ``table_id_seq``) in the real PostgreSQL."""

    url: str
    table: str

    async def count(self) -> int:
        connection: Any = await asyncpg.connect(self.url)
        try:
            return int(await connection.fetchval(f"SELECT count(*) FROM {self.table}"))  # noqa: S608 - a generated table name
        finally:
            await connection.close()

    async def sequence_value(self) -> int:
        connection: Any = await asyncpg.connect(self.url)
        try:
            return int(await connection.fetchval(f"SELECT last_value FROM {self.table}_id_seq"))  # noqa: S608 - a generated table name
        finally:
            await connection.close()


@pytest.fixture
async def scratch(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Scratch]:
    url = postgres_admin_url()
    table = f"tw_runbook_{secrets.token_hex(4)}"
    connection: Any = await asyncpg.connect(url)
    try:
        await connection.execute(
            f"CREATE TABLE {table} (id serial PRIMARY KEY, queue text NOT NULL, jobs int NOT NULL)"
        )
        await connection.execute(
            f"INSERT INTO {table} (queue, jobs) VALUES ('orders', 7), ('signals', 3)"  # noqa: S608 - a generated table name
        )
        monkeypatch.setenv(PG_ENV, url)
        yield Scratch(url, table)
    finally:
        await connection.execute(f"DROP TABLE IF EXISTS {table}")
        await connection.close()


@pytest.fixture
async def redis_prefix(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[str]:
    """A unique key prefix on the shared Redis; its keys are deleted afterwards."""
    prefix = f"tw-runbook-test:{secrets.token_hex(4)}"
    monkeypatch.setenv(REDIS_ENV, SHARED_REDIS)
    client = aioredis.Redis.from_url(SHARED_REDIS, decode_responses=True)
    try:
        yield prefix
    finally:
        keys = [key async for key in client.scan_iter(f"{prefix}:*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


def config(**fields: Any) -> RunbooksConfig:
    """A runbooks section with the two conventional connections on the test env names."""
    fields.setdefault(
        "connections",
        (
            ConnectionConfig(name="app-db", kind="postgres", url_env=PG_ENV),
            ConnectionConfig(name="app-redis", kind="redis", url_env=REDIS_ENV),
        ),
    )
    return RunbooksConfig(**fields)


@pytest.fixture
def make_runner(http: httpx.AsyncClient) -> Callable[..., RunbookRunner]:
    def make(**fields: Any) -> RunbookRunner:
        runner_fields = {
            k: fields.pop(k)
            for k in ("engine", "scheduler", "monitors", "clock", "targets")
            if k in fields
        }
        return RunbookRunner(config(**fields), http=http, **runner_fields)

    return make
