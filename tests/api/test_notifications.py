"""The notification history API and an operator's retry (audited), secrets never shown."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from support.http import bearer
from support.notify_wire import WireServer
from tradewarden.auth import Role
from tradewarden.config import ServiceConfig
from tradewarden.notify import (
    AppriseChannelConfig,
    Message,
    PagerDutyChannelConfig,
    Severity,
)
from tradewarden.runtime import SYSTEM, Runtime

PD_KEY = "R0UT1NGKEYR0UT1NGKEYR0UT1NGKEY42"
HOOK_SECRET = "hookS3cretP4thT0ken"


@pytest.fixture
async def wire() -> AsyncIterator[WireServer]:
    """Return the fake PagerDuty and webhook services."""
    async with WireServer() as server:
        yield server


@pytest.fixture
def service_config(wire: WireServer, monkeypatch: pytest.MonkeyPatch) -> ServiceConfig:
    """A PagerDuty channel falling back to a JSON webhook, both pointed at the fake."""
    monkeypatch.setenv("TW_TEST_PD_KEY", PD_KEY)
    monkeypatch.setenv("TW_TEST_HOOK_URL", f"json://127.0.0.1:{wire.port}/{HOOK_SECRET}")
    return ServiceConfig(
        channels=(
            PagerDutyChannelConfig(
                type="pagerduty",
                name="pager",
                routing_key_env="TW_TEST_PD_KEY",
                url=f"{wire.url}/v2/enqueue",
                fallback="hook",
            ),
            AppriseChannelConfig(type="apprise", name="hook", url_env="TW_TEST_HOOK_URL"),
        )
    )


@pytest.fixture
async def keys(runtime: Runtime) -> dict[str, dict[str, str]]:
    """Return headers of a viewer's and an operator's API key."""
    viewer = await runtime.auth.create_api_key("viewer", Role.VIEWER, actor=SYSTEM)
    operator = await runtime.auth.create_api_key("operator", Role.OPERATOR, actor=SYSTEM)
    return {"viewer": bearer(viewer.key), "operator": bearer(operator.key)}


def _message(fingerprint: str) -> Message:
    return Message(
        fingerprint=fingerprint,
        severity=Severity.P0,
        title=f"{fingerprint} down",
        ack_url="https://warden.example/ack?sig=s1gn4tur3s1gn4tur3",
    )


async def _deliver(runtime: Runtime) -> None:
    assert runtime.notifier is not None
    worker = runtime.notifier.worker()
    while await worker.run_once():
        pass


async def test_history_lists_and_filters_with_pagination(
    runtime: Runtime, client: httpx.AsyncClient, keys: dict[str, dict[str, str]], wire: WireServer
) -> None:
    assert runtime.notifier is not None
    for n in range(3):
        await runtime.notifier.outbox.enqueue(_message(f"bot-{n}"), ["pager"])
    wire.fail("pagerduty", 400)  # the first fails for good: its copy goes to the webhook
    await _deliver(runtime)

    everything = await client.get("/v1/notifications", headers=keys["viewer"])
    assert everything.status_code == 200, everything.text
    rows = everything.json()
    assert [row["channel"] for row in rows] == ["hook", "pager", "pager", "pager"]
    assert [row["status"] for row in rows] == ["delivered", "delivered", "delivered", "failed"]
    assert rows[0]["fallback_of"] == rows[3]["id"]

    failed = await client.get("/v1/notifications?status=failed", headers=keys["viewer"])
    assert [row["fingerprint"] for row in failed.json()] == ["bot-0"]
    hooks = await client.get("/v1/notifications?channel=hook", headers=keys["viewer"])
    assert len(hooks.json()) == 1
    page = await client.get(
        f"/v1/notifications?limit=2&before_id={rows[1]['id']}", headers=keys["viewer"]
    )
    assert [row["id"] for row in page.json()] == [rows[2]["id"], rows[3]["id"]]
    later = await client.get(
        "/v1/notifications", params={"since": "2100-01-01T00:00:00Z"}, headers=keys["viewer"]
    )
    assert later.json() == []
    bad = await client.get("/v1/notifications?status=lost", headers=keys["viewer"])
    assert bad.status_code == 422
    assert bad.json()["error"]["fields"][0]["field"] == "query.status"


async def test_one_notification_shows_every_attempt_and_no_secret(
    runtime: Runtime, client: httpx.AsyncClient, keys: dict[str, dict[str, str]], wire: WireServer
) -> None:
    assert runtime.notifier is not None
    ids = await runtime.notifier.outbox.enqueue(_message("bot-9"), ["hook"])
    wire.fail("webhook", 502)
    await _deliver(runtime)
    runtime.clock.advance(3600)  # type: ignore[attr-defined]
    await _deliver(runtime)

    response = await client.get(f"/v1/notifications/{ids['hook']}", headers=keys["viewer"])
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "delivered"
    assert [(a["number"], a["outcome"], a["status_code"]) for a in body["attempt_log"]] == [
        (1, "transient", 502),
        (2, "ok", 200),
    ]
    assert "HTTP 502" in body["attempt_log"][0]["error"]
    listed = await client.get("/v1/notifications", headers=keys["viewer"])
    for text in (response.text, listed.text):
        assert HOOK_SECRET not in text
        assert PD_KEY not in text
        assert "s1gn4tur3s1gn4tur3" not in text
    missing = await client.get("/v1/notifications/999999", headers=keys["viewer"])
    assert missing.status_code == 404


async def test_an_operator_retries_a_failed_notification_and_it_is_audited(
    runtime: Runtime,
    client: httpx.AsyncClient,
    keys: dict[str, dict[str, str]],
    wire: WireServer,
    admin_headers: dict[str, str],
) -> None:
    assert runtime.notifier is not None
    ids = await runtime.notifier.outbox.enqueue(_message("bot-r"), ["pager"])
    wire.fail("pagerduty", 403)
    await _deliver(runtime)
    url = f"/v1/notifications/{ids['pager']}/retry"

    denied = await client.post(url, json={"reason": "try"}, headers=keys["viewer"])
    assert denied.status_code == 403
    unexplained = await client.post(url, json={}, headers=keys["operator"])
    assert unexplained.status_code == 422
    retried = await client.post(url, json={"reason": "key rotated"}, headers=keys["operator"])
    assert retried.status_code == 200, retried.text
    assert retried.json()["status"] == "pending"

    await _deliver(runtime)
    detail = (await client.get(f"/v1/notifications/{ids['pager']}", headers=keys["viewer"])).json()
    assert detail["status"] == "delivered"
    assert [a["outcome"] for a in detail["attempt_log"]] == ["permanent", "ok"]
    again = await client.post(url, json={"reason": "twice"}, headers=keys["operator"])
    assert again.status_code == 409

    audit = await client.get(
        "/v1/admin/audit", params={"action": "notification.retry"}, headers=admin_headers
    )
    entries = audit.json()
    assert [(e["outcome"], e["reason"], e["target"]) for e in entries][-1] == (
        "success",
        "key rotated",
        f"notification/{ids['pager']}",
    )
    refused = await client.get(
        "/v1/admin/audit",
        params={"action": "POST /v1/notifications/{notification_id}/retry"},
        headers=admin_headers,
    )
    assert [(e["outcome"], e["actor"]) for e in refused.json()] == [("denied", "api_key:viewer")]
