"""Alerts in (Alertmanager API v2, its webhook, a generic webhook) and silences, over HTTP."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest

from support.http import bearer
from tradewarden.alerting import RouteConfig, fingerprint
from tradewarden.auth import Role
from tradewarden.config import ServiceConfig
from tradewarden.notify import AppriseChannelConfig
from tradewarden.runtime import SYSTEM, Runtime
from tradewarden.store import AuditRepository

NOW = "2027-01-15T08:00:00Z"  # the ManualClock's 1_800_000_000 s


@pytest.fixture
def service_config(monkeypatch: pytest.MonkeyPatch) -> ServiceConfig:
    monkeypatch.setenv("TW_TEST_CHAT_URL", "json://127.0.0.1:9/chat")
    return ServiceConfig(
        channels=(AppriseChannelConfig(type="apprise", name="chat", url_env="TW_TEST_CHAT_URL"),),
        route=RouteConfig(receiver="chat", group_by=("alertname",)),
    )


@pytest.fixture
async def keys(runtime: Runtime) -> dict[str, str]:
    viewer = await runtime.auth.create_api_key("viewer", Role.VIEWER, actor=SYSTEM)
    operator = await runtime.auth.create_api_key("prometheus", Role.OPERATOR, actor=SYSTEM)
    return {"viewer": viewer.key, "operator": operator.key}


def _basic(key: str) -> dict[str, str]:
    token = base64.b64encode(f"prometheus:{key}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def _alert(**labels: str) -> dict[str, Any]:
    return {
        "labels": {"alertname": "BotDown", **labels},
        "annotations": {"summary": "the bot stopped"},
        "startsAt": "2027-01-15T07:59:00Z",
        "endsAt": "2027-01-15T08:10:00Z",
        "generatorURL": "http://prometheus/graph",
    }


async def test_prometheus_posts_and_reads_alerts(
    client: httpx.AsyncClient, keys: dict[str, str]
) -> None:
    response = await client.post(
        "/api/v2/alerts", json=[_alert(bot="a"), _alert(bot="b")], headers=_basic(keys["operator"])
    )
    assert response.status_code == 200, response.text
    listed = await client.get("/api/v2/alerts", headers=bearer(keys["viewer"]))
    assert listed.status_code == 200
    alerts = listed.json()
    assert [a["labels"]["bot"] for a in alerts] == ["a", "b"]
    first = alerts[0]
    assert first["fingerprint"] == fingerprint({"alertname": "BotDown", "bot": "a"})
    assert first["receivers"] == [{"name": "chat"}]
    assert first["status"] == {"state": "active", "silencedBy": [], "inhibitedBy": []}
    assert first["generatorURL"] == "http://prometheus/graph"
    only_b = await client.get(
        "/api/v2/alerts", params={"filter": 'bot="b"'}, headers=bearer(keys["viewer"])
    )
    assert [a["labels"]["bot"] for a in only_b.json()] == ["b"]
    bad = await client.get(
        "/api/v2/alerts", params={"filter": "=x"}, headers=bearer(keys["viewer"])
    )
    assert bad.status_code == 400


async def test_inputs_need_an_operators_key(
    client: httpx.AsyncClient, keys: dict[str, str]
) -> None:
    assert (await client.post("/api/v2/alerts", json=[_alert()])).status_code == 401
    viewer = await client.post("/api/v2/alerts", json=[_alert()], headers=bearer(keys["viewer"]))
    assert viewer.status_code == 403
    wrong = await client.post("/api/v2/alerts", json=[_alert()], headers=_basic("tw_nope"))
    assert wrong.status_code == 401


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ([{"annotations": {}}], "body.0.labels"),
        ([{"labels": {}}], "body.0.labels"),
        ([{"labels": {"bad-name": "x"}}], "body.0.labels.bad-name"),
        ([{"labels": {"a": 1}}], "body.0.labels.a"),
        ([_alert(), {"labels": {"a": "b"}, "startsAt": "yesterday"}], "body.1.startsAt"),
        ([{"labels": {"a": "b"}, "startsAt": "2027-01-15T08:00:00"}], "body.0.startsAt"),
        (
            [{"labels": {"a": "b"}, "startsAt": NOW, "endsAt": "2027-01-15T07:00:00Z"}],
            "body.0.endsAt",
        ),
        ({"labels": {"a": "b"}}, "body"),
    ],
)
async def test_malformed_alerts_are_refused_whole(
    client: httpx.AsyncClient, keys: dict[str, str], body: Any, field: str
) -> None:
    response = await client.post("/api/v2/alerts", json=body, headers=bearer(keys["operator"]))
    assert response.status_code == 400, response.text
    assert field in [f["field"] for f in response.json()["error"]["fields"]]
    listed = await client.get("/api/v2/alerts", headers=bearer(keys["viewer"]))
    assert listed.json() == []


async def test_not_json_and_too_big(client: httpx.AsyncClient, keys: dict[str, str]) -> None:
    headers = {**bearer(keys["operator"]), "Content-Type": "application/json"}
    response = await client.post("/api/v2/alerts", content=b"[{", headers=headers)
    assert response.status_code == 400
    assert "not JSON" in response.json()["error"]["message"]
    huge = b"[" + b'{"labels":{"a":"b"}},' * 600_000 + b'{"labels":{"a":"b"}}]'
    response = await client.post("/api/v2/alerts", content=huge, headers=headers)
    assert response.status_code == 413


async def test_alertmanager_webhook_v4(client: httpx.AsyncClient, keys: dict[str, str]) -> None:
    payload = {
        "version": "4",
        "groupKey": '{}:{alertname="BotDown"}',
        "status": "firing",
        "receiver": "warden",
        "groupLabels": {"alertname": "BotDown"},
        "commonLabels": {"alertname": "BotDown"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager",
        "alerts": [
            {
                **_alert(bot="a"),
                "status": "firing",
                "endsAt": "0001-01-01T00:00:00Z",
                "fingerprint": "x",
            },
            {
                **_alert(bot="b"),
                "status": "resolved",
                "endsAt": "2027-01-15T07:59:30Z",
                "fingerprint": "y",
            },
        ],
    }
    response = await client.post(
        "/v1/integrations/alertmanager", json=payload, headers=bearer(keys["operator"])
    )
    assert response.status_code == 200, response.text
    alerts = (await client.get("/api/v2/alerts", headers=bearer(keys["viewer"]))).json()
    assert [a["labels"]["bot"] for a in alerts] == ["a"]  # b is resolved
    bad = await client.post(
        "/v1/integrations/alertmanager",
        json={**payload, "version": "3"},
        headers=bearer(keys["operator"]),
    )
    assert bad.status_code == 400
    assert "body.version" in [f["field"] for f in bad.json()["error"]["fields"]]


async def test_generic_webhook(client: httpx.AsyncClient, keys: dict[str, str]) -> None:
    one = {"labels": {"alertname": "Custom", "host": "h"}, "annotations": {"summary": "s"}}
    response = await client.post("/v1/webhooks/alerts", json=one, headers=bearer(keys["operator"]))
    assert response.status_code == 200, response.text
    alerts = (await client.get("/api/v2/alerts", headers=bearer(keys["viewer"]))).json()
    assert alerts[0]["labels"] == {"alertname": "Custom", "host": "h"}
    done = {**one, "status": "resolved"}
    await client.post("/v1/webhooks/alerts", json=[done], headers=bearer(keys["operator"]))
    assert (await client.get("/api/v2/alerts", headers=bearer(keys["viewer"]))).json() == []


async def test_silences_v2(
    client: httpx.AsyncClient, keys: dict[str, str], runtime: Runtime
) -> None:
    await client.post("/api/v2/alerts", json=[_alert(bot="a")], headers=bearer(keys["operator"]))
    body = {
        "matchers": [{"name": "bot", "value": "a", "isRegex": False, "isEqual": True}],
        "startsAt": NOW,
        "endsAt": "2027-01-15T10:00:00Z",
        "createdBy": "alice",
        "comment": "deploying",
    }
    denied = await client.post("/api/v2/silences", json=body, headers=bearer(keys["viewer"]))
    assert denied.status_code == 403
    created = await client.post("/api/v2/silences", json=body, headers=bearer(keys["operator"]))
    assert created.status_code == 200, created.text
    silence_id = created.json()["silenceID"]
    (alert,) = (await client.get("/api/v2/alerts", headers=bearer(keys["viewer"]))).json()
    assert alert["status"]["state"] == "suppressed"
    assert alert["status"]["silencedBy"] == [silence_id]
    listed = (await client.get("/api/v2/silences", headers=bearer(keys["viewer"]))).json()
    assert [(s["id"], s["status"]["state"], s["createdBy"]) for s in listed] == [
        (silence_id, "active", "alice")
    ]
    assert listed[0]["matchers"] == body["matchers"]
    gone = await client.delete(f"/api/v2/silence/{silence_id}", headers=bearer(keys["operator"]))
    assert gone.status_code == 200
    one = await client.get(f"/api/v2/silence/{silence_id}", headers=bearer(keys["viewer"]))
    assert one.json()["status"]["state"] == "expired"  # kept for history
    missing = await client.delete("/api/v2/silence/nope", headers=bearer(keys["operator"]))
    assert missing.status_code == 404
    async with runtime.database.read_session() as session:
        entries = await AuditRepository(session).list()
    actions = [(e.action, e.actor, e.reason) for e in entries if e.action.startswith("silence")]
    assert actions == [
        ("silence.expire", "api_key:prometheus", "expired"),
        ("silence.create", "api_key:prometheus", "deploying"),
    ]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"matchers": []}, "body.matchers"),
        ({"matchers": [{"name": "a", "value": "", "isRegex": False}]}, "body.matchers"),
        ({"matchers": [{"name": "a", "value": "(", "isRegex": True}]}, "body.matchers.0.value"),
        ({"endsAt": "2027-01-15T07:00:00Z"}, "body.endsAt"),
        ({"comment": ""}, "body.comment"),
    ],
)
async def test_bad_silences(
    client: httpx.AsyncClient, keys: dict[str, str], change: dict[str, Any], field: str
) -> None:
    body = {
        "matchers": [{"name": "bot", "value": "a", "isRegex": False, "isEqual": True}],
        "endsAt": "2027-01-15T10:00:00Z",
        "comment": "why",
        **change,
    }
    response = await client.post("/v1/silences", json=body, headers=bearer(keys["operator"]))
    assert response.status_code == 400, response.text
    assert field in [f["field"] for f in response.json()["error"]["fields"]]


async def test_alerting_metrics(
    client: httpx.AsyncClient, keys: dict[str, str], runtime: Runtime
) -> None:
    from prometheus_client import generate_latest

    await client.post("/api/v2/alerts", json=[_alert(bot="a")], headers=bearer(keys["operator"]))
    text = generate_latest(runtime.registry).decode()
    assert 'alerting_alerts_received_total{source="prometheus"} 1.0' in text
    assert 'alerting_alerts_received_total{source="webhook"} 0.0' in text
    assert "alerting_groups 1.0" in text
