"""Acknowledge over the API and by a signed link (GET only confirms), escalations listed,
on-call overrides stored and audited."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import AsyncIterator
from io import StringIO
from urllib.parse import quote, urlsplit

import httpx
import pytest
import structlog

from support.http import bearer
from support.notify_wire import WireServer
from tradewarden.auth import Role
from tradewarden.clock import ManualClock, utc_datetime
from tradewarden.config import ServiceConfig
from tradewarden.escalation import (
    ACK_LINK_TTL_S,
    LayerConfig,
    PersonConfig,
    PolicyConfig,
    ScheduleConfig,
    StepConfig,
)
from tradewarden.notify import AppriseChannelConfig, Message, Severity
from tradewarden.runtime import SYSTEM, Runtime
from tradewarden.store import AuditRepository
from tradewarden.telemetry import configure_logging, redact_text

KEY = 'group/{alertname="BotDown"}'
PAGE = PolicyConfig(
    name="page", steps=(StepConfig(on_call=("ops:primary",), wait_minutes=15),), repeat=1
)


@pytest.fixture
async def wire() -> AsyncIterator[WireServer]:
    """Return the fake webhook services."""
    async with WireServer() as server:
        yield server


@pytest.fixture
def service_config(wire: WireServer, monkeypatch: pytest.MonkeyPatch) -> ServiceConfig:
    """Two people with a webhook each, a weekly schedule (alice first)."""
    channels = []
    for name in ("alice-hook", "bob-hook"):
        env = f"TW_TEST_{name.upper().replace('-', '_')}"
        monkeypatch.setenv(env, f"json://127.0.0.1:{wire.port}/{name}")
        channels.append(AppriseChannelConfig(type="apprise", name=name, url_env=env))
    return ServiceConfig(
        channels=tuple(channels),
        people=(
            PersonConfig(name="alice", channels=("alice-hook",)),
            PersonConfig(name="bob", channels=("bob-hook",)),
        ),
        schedules=(
            ScheduleConfig(
                name="ops",
                layers=(LayerConfig(members=("alice", "bob"), start=dt.date(2027, 1, 11)),),
            ),
        ),
        escalation_policies=(PAGE,),
    )


@pytest.fixture
async def keys(runtime: Runtime) -> dict[str, dict[str, str]]:
    viewer = await runtime.auth.create_api_key("viewer", Role.VIEWER, actor=SYSTEM)
    operator = await runtime.auth.create_api_key("operator", Role.OPERATOR, actor=SYSTEM)
    return {"viewer": bearer(viewer.key), "operator": bearer(operator.key)}


async def _open(runtime: Runtime) -> None:
    assert runtime.escalator is not None
    message = Message(fingerprint="bot-down", severity=Severity.P0, title="BotDown fired")
    await runtime.escalator.open(KEY, message, PAGE)
    assert await runtime.escalator.run_due() == 1


async def _audit(runtime: Runtime, action: str) -> list[tuple[str, str | None, str | None]]:
    async with runtime.database.read_session() as session:
        rows = await AuditRepository(session).list(action=action)
    return [(row.actor, row.target, row.reason) for row in rows]


async def test_an_operator_acknowledges_over_the_api_and_it_is_audited(
    runtime: Runtime, client: httpx.AsyncClient, keys: dict[str, dict[str, str]]
) -> None:
    await _open(runtime)
    path = f"/v1/alerts/{quote(KEY, safe='')}/ack"
    denied = await client.post(path, json={"reason": "mine"}, headers=keys["viewer"])
    assert denied.status_code == 403
    missing = await client.post(path, json={}, headers=keys["operator"])
    assert missing.status_code == 422
    assert [f["field"] for f in missing.json()["error"]["fields"]] == ["body.reason"]

    response = await client.post(path, json={"reason": "on it"}, headers=keys["operator"])
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["changed"] is True
    assert body["escalation"]["status"] == "acknowledged"
    assert body["escalation"]["notified"] == ["alice-hook"]
    assert await _audit(runtime, "alert.ack") == [("api_key:operator", KEY, "on it")]
    again = await client.post(path, json={"reason": "again"}, headers=keys["operator"])
    assert again.json()["changed"] is False

    listed = await client.get("/v1/escalations", headers=keys["viewer"])
    assert [(e["key"], e["status"], e["acknowledged_by"]) for e in listed.json()] == [
        (KEY, "acknowledged", "api_key:operator")
    ]
    unknown = await client.post(
        "/v1/alerts/nothing/ack", json={"reason": "x"}, headers=keys["operator"]
    )
    assert unknown.status_code == 404


async def test_a_signed_link_confirms_on_get_and_acknowledges_on_post(
    runtime: Runtime, client: httpx.AsyncClient, keys: dict[str, dict[str, str]]
) -> None:
    await _open(runtime)
    assert runtime.escalator is not None
    url = runtime.escalator.ack_url_for(KEY)
    assert url is not None
    path = urlsplit(url).path
    token = path.rsplit("/", 1)[1]
    assert token not in redact_text(f"GET {url} 200")  # access logs mask it

    page = await client.get(path)
    assert page.status_code == 200
    assert "<form method='post'>" in page.text
    assert "BotDown fired" in page.text
    listed = await client.get("/v1/escalations", headers=keys["viewer"])
    assert listed.json()[0]["status"] == "open"  # a link scanner's fetch acknowledged nothing

    done = await client.post(path, data={"reason": "from my phone"})
    assert done.status_code == 200
    assert "Acknowledged" in done.text
    assert await _audit(runtime, "alert.ack") == [("ack-link", KEY, "from my phone")]
    listed = await client.get("/v1/escalations", headers=keys["viewer"])
    assert listed.json()[0]["status"] == "acknowledged"


async def test_an_expired_or_tampered_link_acknowledges_nothing(
    runtime: Runtime, client: httpx.AsyncClient, clock: ManualClock
) -> None:
    await _open(runtime)
    assert runtime.escalator is not None
    path = urlsplit(runtime.escalator.ack_url_for(KEY) or "").path
    head, _, signature = path.rpartition(".")
    tampered = f"{head}.{signature[::-1]}"
    assert (await client.post(tampered)).status_code == 401
    assert (await client.get("/v1/ack/not-a-token")).status_code == 401
    clock.advance(ACK_LINK_TTL_S)
    assert (await client.get(path)).status_code == 401
    assert (await client.post(path)).status_code == 401
    assert await _audit(runtime, "alert.ack") == []


async def test_overrides_are_stored_audited_and_change_who_is_on_call(
    runtime: Runtime,
    client: httpx.AsyncClient,
    keys: dict[str, dict[str, str]],
    clock: ManualClock,
) -> None:
    now = utc_datetime(clock.now())
    before = await client.get("/v1/oncall", headers=keys["viewer"])
    assert [(x["layer"], x["on_call"]) for x in before.json()["layers"]] == [("primary", "alice")]
    override = {
        "schedule": "ops",
        "layer": "primary",
        "replaces": "alice",
        "replacement": "bob",
        "starts_at": now.isoformat(),
        "ends_at": (now + dt.timedelta(hours=2)).isoformat(),
        "reason": "alice is on a plane",
    }
    bad = await client.post(
        "/v1/oncall/overrides", json={**override, "replacement": "zoe"}, headers=keys["operator"]
    )
    assert bad.status_code == 422
    assert [f["field"] for f in bad.json()["error"]["fields"]] == ["body.replacement"]
    viewer = await client.post("/v1/oncall/overrides", json=override, headers=keys["viewer"])
    assert viewer.status_code == 403

    created = await client.post("/v1/oncall/overrides", json=override, headers=keys["operator"])
    assert created.status_code == 201, created.text
    during = await client.get("/v1/oncall", headers=keys["viewer"])
    assert during.json()["layers"][0]["on_call"] == "bob"
    assert [o["replacement"] for o in during.json()["overrides"]] == ["bob"]
    assert await _audit(runtime, "oncall.override.create") == [
        ("api_key:operator", "ops/primary", "alice is on a plane")
    ]

    override_id = created.json()["id"]
    deleted = await client.delete(
        f"/v1/oncall/overrides/{override_id}", params={"reason": "back"}, headers=keys["operator"]
    )
    assert deleted.status_code == 204
    after = await client.get("/v1/oncall", headers=keys["viewer"])
    assert after.json()["layers"][0]["on_call"] == "alice"
    assert len(await _audit(runtime, "oncall.override.delete")) == 1


async def test_the_link_token_never_reaches_the_log(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    await _open(runtime)
    assert runtime.escalator is not None
    path = urlsplit(runtime.escalator.ack_url_for(KEY) or "").path
    token = path.rsplit("/", 1)[1]
    stream = StringIO()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    configure_logging("INFO", "json", stream=stream)
    try:
        assert (await client.get(path)).status_code == 200
        assert (await client.post(path, data={"reason": "ok"})).status_code == 200
        await runtime.escalator.open("other", Message(fingerprint="o", title="o"), PAGE)
        await runtime.escalator.run_due()
    finally:
        for handler in [h for h in root.handlers if h not in handlers]:
            root.removeHandler(handler)
        root.setLevel(level)
        structlog.reset_defaults()
    logged = stream.getvalue()
    assert "/v1/ack/" in logged  # the access log has the requests
    assert token not in logged
    assert token.split(".")[2] not in logged  # not even the signature


async def test_escalations_filter_by_status_and_refuse_unknown_ones(
    runtime: Runtime, client: httpx.AsyncClient, keys: dict[str, dict[str, str]]
) -> None:
    await _open(runtime)
    open_ = await client.get("/v1/escalations?status=open", headers=keys["viewer"])
    assert [e["key"] for e in open_.json()] == [KEY]
    none = await client.get("/v1/escalations?status=resolved", headers=keys["viewer"])
    assert none.json() == []
    bad = await client.get("/v1/escalations?status=sleeping", headers=keys["viewer"])
    assert bad.status_code == 422
    assert [f["field"] for f in bad.json()["error"]["fields"]] == ["query.status.0"]
