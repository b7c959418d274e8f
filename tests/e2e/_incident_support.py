"""Pieces of the incident flow's end-to-end test: the loopback services around a served
warden (a webhook inbox, the monitored target), the real PostgreSQL table and Redis list
its runbook reads, the runbook file, and the warden itself.

The warden runs in-process (a ``Runtime`` served by uvicorn on 127.0.0.1), with a wall
clock the test can move forward (an NTP step): an escalation's next step comes due
without waiting for it.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import asyncpg
import redis.asyncio as aioredis
from aiohttp import web

from e2e._inputs_support import JumpClock
from e2e._receiver import serve_app
from support.net import LOOPBACK
from support.warden import serve_runtime
from tradewarden.auth import PasswordHasher, Role
from tradewarden.config import ServiceConfig, Settings
from tradewarden.runtime import SYSTEM, Runtime

__all__ = [
    "CHANNELS",
    "PG_ENV",
    "REDIS_ENV",
    "REDIS_URL",
    "Delivered",
    "Inbox",
    "JumpClock",
    "Target",
    "Warden",
    "channel_env",
    "postgres_url",
    "redis_list",
    "running_warden",
    "scratch_table",
    "service_config",
    "write_runbook",
]

PG_ENV = "TW_E2E_INCIDENT_PG_URL"
REDIS_ENV = "TW_E2E_INCIDENT_REDIS_URL"
REDIS_URL = "redis://127.0.0.1:6379/0"
# The route's receiver, then the escalation policy's two steps.
CHANNELS = ("chat", "page1", "page2")
# A notification as JSON (tojson escapes, still valid JSON): what the inbox parses.
BODY = '{{ {"status": status, "title": title, "labels": labels} | tojson }}'


def postgres_url() -> str:
    """The real PostgreSQL the suite runs against (its admin database)."""
    return os.environ.get("TW_TEST_DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/postgres"


@dataclass(frozen=True)
class Delivered:
    """One notification a channel delivered."""

    channel: str
    status: str
    title: str
    labels: dict[str, str]


@dataclass
class Inbox:
    """A loopback webhook: each channel's Apprise ``json://`` posts land at ``/<channel>``."""

    delivered: list[Delivered] = field(default_factory=list)
    port: int = 0
    _runner: web.AppRunner | None = None

    def url_for(self, channel: str) -> str:
        """The Apprise URL of ``channel``."""
        return f"json://{LOOPBACK}:{self.port}/{channel}"

    def to(self, channel: str) -> list[Delivered]:
        """Every notification ``channel`` delivered, in arrival order."""
        return [d for d in self.delivered if d.channel == channel]

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
        message = json.loads(body["message"])
        self.delivered.append(
            Delivered(
                channel=request.match_info["channel"],
                status=str(message.get("status", "")),
                title=str(body.get("title", "")),
                labels=dict(message.get("labels") or {}),
            )
        )
        return web.Response(status=200, text="ok")


class Target:
    """A local HTTP service whose ``/health`` answer a test flips (``status``)."""

    def __init__(self) -> None:
        self.status = 200
        self.host = ""
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        """The URL of its ``/health``."""
        return f"http://{self.host}/health"

    async def __aenter__(self) -> Self:
        app = web.Application()
        app.router.add_get("/health", self._get)
        self._runner, port = await serve_app(app)
        self.host = f"{LOOPBACK}:{port}"
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _get(self, _request: web.Request) -> web.Response:
        if self.status == 200:
            return web.json_response({"status": "ok"})
        return web.json_response({"status": "down", "db": "timeout"}, status=self.status)


@asynccontextmanager
async def scratch_table(rows: dict[str, int]) -> AsyncIterator[str]:
    """Create a table ``(queue text, jobs int)`` holding ``rows`` in the real PostgreSQL;
    yield its (generated) name; drop it afterwards."""
    table = f"tw_e2e_incident_{secrets.token_hex(4)}"
    connection: Any = await asyncpg.connect(postgres_url())
    try:
        await connection.execute(f"CREATE TABLE {table} (queue text PRIMARY KEY, jobs int)")
        await connection.executemany(
            f"INSERT INTO {table} (queue, jobs) VALUES ($1, $2)",  # noqa: S608 - a generated table name
            list(rows.items()),
        )
        yield table
    finally:
        await connection.execute(f"DROP TABLE IF EXISTS {table}")
        await connection.close()


@asynccontextmanager
async def redis_list(length: int) -> AsyncIterator[str]:
    """Fill a list of ``length`` items under a unique key on the shared Redis; yield the
    key; delete it afterwards."""
    key = f"tw-e2e-incident:{secrets.token_hex(4)}:orders:wait"
    client = aioredis.Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        await client.rpush(key, *[f"job-{n}" for n in range(length)])
        yield key
    finally:
        await client.delete(key)
        await client.aclose()


def write_runbook(folder: Path, document: dict[str, Any]) -> Path:
    """Write ``document`` as a runbook file in ``folder`` (JSON is YAML); return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{document['id']}.yml"
    path.write_text(json.dumps(document, indent=2), encoding="utf-8")
    return path


def service_config(inbox: Inbox, **sections: Any) -> ServiceConfig:
    """The config file of the test: a channel per name in ``CHANNELS`` to the inbox, every
    alert its own group, short waits; ``sections`` adds the rest."""
    document: dict[str, Any] = {
        "channels": [
            {
                "type": "apprise",
                "name": name,
                "url_env": f"TW_E2E_INCIDENT_{name.upper()}_URL",
                "retry": {
                    "initial_backoff_s": 0.1,
                    "max_backoff_s": 0.5,
                    "deadline_s": 60,
                    "timeout_s": 5,
                },
                "templates": {"body": BODY},
            }
            for name in CHANNELS
        ],
        "receivers": [{"name": "team", "channels": ["chat"]}],
        "route": {
            "receiver": "team",
            "group_by": ["..."],
            "group_wait": "100ms",
            "group_interval": "500ms",
            "repeat_interval": "1h",
        },
        "metrics": {"self_scrape_interval_s": 0.5, "snapshot_enabled": False},
    }
    document.update(sections)
    return ServiceConfig.model_validate(document)


def channel_env(inbox: Inbox) -> dict[str, str]:
    """The environment variables holding each channel's URL."""
    return {f"TW_E2E_INCIDENT_{name.upper()}_URL": inbox.url_for(name) for name in CHANNELS}


@dataclass(frozen=True)
class Warden:
    """A served warden: its URL, an operator's API key and the runtime."""

    url: str
    key: str
    runtime: Runtime

    @property
    def headers(self) -> dict[str, str]:
        """The operator's Authorization header."""
        return {"Authorization": f"Bearer {self.key}"}


@asynccontextmanager
async def running_warden(
    settings: Settings, config: ServiceConfig, *, clock: JumpClock, hasher: PasswordHasher
) -> AsyncIterator[Warden]:
    """Start the service (monitors, rules, alerting, escalation, incidents) and serve it."""
    runtime = Runtime(settings, config, clock=clock, hasher=hasher)
    try:
        await runtime.start(bootstrap_admin=False, run_probes=True)
        key = await runtime.auth.create_api_key("on-call", Role.OPERATOR, actor=SYSTEM)
    except BaseException:
        await runtime.close()
        raise
    async with serve_runtime(runtime, access_log=False) as url:
        yield Warden(url=url, key=key.key, runtime=runtime)
