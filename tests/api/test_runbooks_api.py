"""/v1/runbooks: the bundled and the user's runbooks read by a viewer, rendered as Markdown,
and run by an operator against real targets (a local HTTP server, the real Redis), the run
audited; a viewer cannot run one, a bad body is a 422 naming the field, and a bad runbook
file stops the warden's start naming the file."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web

from support.http import bearer
from tradewarden.api import create_app
from tradewarden.auth import PasswordHasher, Role
from tradewarden.clock import ManualClock
from tradewarden.config import ServiceConfig, Settings
from tradewarden.errors import ConfigError
from tradewarden.runbooks import ConnectionConfig, RunbooksConfig
from tradewarden.runtime import SYSTEM, Runtime

pytestmark = pytest.mark.redis

REDIS_ENV = "TW_H5B_RUNBOOK_REDIS_URL"

USER_RUNBOOK = """
id: bot-health
title: The bot's health
summary: Read the bot's health endpoint and its Redis.
applies_to:
  alertnames: [BotUnhealthy]
symptoms: [The bot answers slowly.]
diagnosis: [Read its /health.]
resolution: [Restart it.]
automated:
  - id: health
    title: The bot's /health
    kind: http
    url: 'http://{{ labels.instance }}/health?queue={{ labels.queue }}'
  - id: ping
    title: PING the bot's Redis
    kind: redis
    connection: app-redis
    command: [PING]
  - id: one
    title: A constant
    kind: promql
    query: 'vector(1)'
  - id: needs-wallet
    title: Needs a label the alert lacks
    kind: promql
    query: 'wallet_balance_sol{wallet="{{ labels.wallet }}"}'
actions:
  - id: halt
    title: Halt
    action: kill_switch.halt
"""


@dataclass
class Warden:
    http: httpx.AsyncClient
    viewer: dict[str, str]
    operator: dict[str, str]
    admin: dict[str, str]
    bot_address: str
    hits: list[str]

    async def audit(self, action: str) -> list[dict[str, Any]]:
        response = await self.http.get(
            "/v1/admin/audit", params={"action": action}, headers=self.admin
        )
        assert response.status_code == 200, response.text
        rows: list[dict[str, Any]] = response.json()
        return rows


@pytest.fixture
async def bot() -> AsyncIterator[tuple[str, list[str]]]:
    """A bot's /health on loopback; returns its host:port and the requests it saw."""
    hits: list[str] = []

    async def health(request: web.Request) -> web.Response:
        hits.append(request.path_qs)
        return web.json_response({"status": "ok"})

    app = web.Application()
    app.router.add_get("/health", health)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"127.0.0.1:{port}", hits
    finally:
        await runner.cleanup()


@pytest.fixture
async def warden(
    settings: Settings,
    fast_hasher: PasswordHasher,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    bot: tuple[str, list[str]],
) -> AsyncIterator[Warden]:
    folder = tmp_path / "runbooks"
    folder.mkdir()
    (folder / "bot-health.yml").write_text(USER_RUNBOOK, encoding="utf-8")
    monkeypatch.setenv(REDIS_ENV, "redis://127.0.0.1:6379/0")
    runbooks = RunbooksConfig(
        directories=(str(folder),),
        http_hosts=("127.0.0.1",),  # the bot's address comes from the alert's labels
        connections=(ConnectionConfig(name="app-redis", kind="redis", url_env=REDIS_ENV),),
    )
    runtime = Runtime(
        settings, ServiceConfig(runbooks=runbooks), clock=ManualClock(), hasher=fast_hasher
    )
    await runtime.start(bootstrap_admin=False)
    try:
        keys = [
            await runtime.auth.create_api_key(
                f"{role.label}-{secrets.token_hex(3)}", role, actor=SYSTEM
            )
            for role in (Role.VIEWER, Role.OPERATOR, Role.ADMIN)
        ]
        transport = httpx.ASGITransport(
            app=create_app(runtime, manage_runtime=False), client=("127.0.0.1", 40003)
        )
        async with httpx.AsyncClient(transport=transport, base_url="http://w") as http:
            yield Warden(http, *(bearer(key.key) for key in keys), bot_address=bot[0], hits=bot[1])
    finally:
        await runtime.close()


async def test_a_viewer_lists_the_bundled_and_the_users_runbooks(warden: Warden) -> None:
    response = await warden.http.get("/v1/runbooks", headers=warden.viewer)
    assert response.status_code == 200, response.text
    listed = {item["id"]: item for item in response.json()}
    assert {"high-queue-backlog", "financial-loss-detected", "bot-health"} <= set(listed)
    assert listed["bot-health"]["applies_to"] == {"alertnames": ["BotUnhealthy"], "matchers": []}
    assert listed["high-queue-backlog"]["source"] == "bundled:high-queue-backlog.yml"
    assert set(listed["bot-health"]) == {"id", "title", "summary", "applies_to", "source"}


async def test_anonymous_callers_are_refused(warden: Warden) -> None:
    assert (await warden.http.get("/v1/runbooks")).status_code == 401


async def test_one_runbook_whole_and_as_markdown(warden: Warden) -> None:
    response = await warden.http.get("/v1/runbooks/financial-loss-detected", headers=warden.viewer)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["actions"][0]["action"] == "kill_switch.halt"
    assert body["actions"][0]["automatic"] is False
    assert [s["id"] for s in body["automated"]][:2] == ["breaches", "trading-state"]
    assert all(body[section] for section in ("symptoms", "diagnosis", "resolution"))

    for path, params in (
        ("/v1/runbooks/financial-loss-detected.md", {}),
        ("/v1/runbooks/financial-loss-detected", {"format": "markdown"}),
    ):
        page = await warden.http.get(path, params=params, headers=warden.viewer)
        assert page.status_code == 200, page.text
        assert page.headers["content-type"].startswith("text/markdown")
        assert page.text.startswith("# Financial loss detected\n")
        assert "`kill_switch.halt`" in page.text

    missing = await warden.http.get("/v1/runbooks/no-such-runbook", headers=warden.viewer)
    assert missing.status_code == 404
    bad_format = await warden.http.get(
        "/v1/runbooks/bot-health", params={"format": "pdf"}, headers=warden.viewer
    )
    assert bad_format.status_code == 422
    assert "format" in bad_format.text


async def test_an_operator_runs_the_steps_now_and_the_run_is_audited(warden: Warden) -> None:
    response = await warden.http.post(
        "/v1/runbooks/bot-health/run",
        json={
            "labels": {"instance": warden.bot_address, "queue": "orders"},
            "reason": "checking the bot by hand",
        },
        headers=warden.operator,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["runbook"] == "bot-health"
    results = {r["step_id"]: r for r in body["results"]}
    assert list(results) == ["health", "ping", "one", "needs-wallet"]
    assert results["health"]["status"] == "ok", results["health"]
    assert warden.hits == ["/health?queue=orders"]
    assert results["ping"]["status"] == "ok", results["ping"]
    assert results["one"]["status"] == "ok", results["one"]
    assert results["needs-wallet"]["status"] == "skipped"
    assert "label wallet missing" in (results["needs-wallet"]["error"] or "")

    rows = await warden.audit("runbook.run")
    assert len(rows) == 1
    row = rows[0]
    assert row["actor"].startswith("api_key:operator-")
    assert row["actor_type"] == "api_key"
    assert row["at"]
    assert row["reason"] == "checking the bot by hand"
    assert row["target"] == "bot-health"
    assert row["outcome"] == "success"
    assert row["details"]["steps"] == {
        "health": "ok",
        "ping": "ok",
        "one": "ok",
        "needs-wallet": "skipped",
    }


async def test_a_viewer_cannot_run_a_runbook(warden: Warden) -> None:
    response = await warden.http.post(
        "/v1/runbooks/bot-health/run", json={"reason": "curious"}, headers=warden.viewer
    )
    assert response.status_code == 403
    assert warden.hits == []
    assert await warden.audit("runbook.run") == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "reason"),
        ({"reason": ""}, "reason"),
        ({"reason": "x", "labels": ["queue=orders"]}, "labels"),
        ({"reason": "x", "labels": {"bad name": "v"}}, "labels"),
        ({"reason": "x", "annotations": {"summary": 3}}, "annotations"),
        ({"reason": "x", "dry_run": True}, "dry_run"),
    ],
)
async def test_a_bad_body_is_refused_naming_the_field(
    warden: Warden, body: dict[str, Any], field: str
) -> None:
    response = await warden.http.post(
        "/v1/runbooks/bot-health/run", json=body, headers=warden.operator
    )
    assert response.status_code == 422, response.text
    assert field in response.text
    assert warden.hits == []
    assert await warden.audit("runbook.run") == []


async def test_running_an_unknown_runbook_is_a_404(warden: Warden) -> None:
    response = await warden.http.post(
        "/v1/runbooks/no-such-runbook/run", json={"reason": "x"}, headers=warden.operator
    )
    assert response.status_code == 404
    assert await warden.audit("runbook.run") == []


async def test_a_bad_runbook_file_stops_the_start_naming_file_and_step(
    settings: Settings, fast_hasher: PasswordHasher, tmp_path: Path
) -> None:
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "purge.yml").write_text(
        USER_RUNBOOK.replace("id: bot-health", "id: purge").replace(
            "kind: redis\n    connection: app-redis\n    command: [PING]",
            "kind: redis\n    connection: app-redis\n    command: [FLUSHALL]",
        ),
        encoding="utf-8",
    )
    config = ServiceConfig(runbooks=RunbooksConfig(directories=(str(folder),)))
    runtime = Runtime(settings, config, clock=ManualClock(), hasher=fast_hasher)
    try:
        with pytest.raises(ConfigError) as caught:
            await runtime.start(bootstrap_admin=False)
    finally:
        await runtime.close()
    message = str(caught.value)
    assert "purge.yml" in message
    assert "step ping" in message
    assert "FLUSHALL" in message
