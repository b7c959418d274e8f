"""Incidents over the API: viewers read, operators write, every write audited and on the
timeline; bad bodies 422 naming the field, unknown ids 404, invalid moves 409."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from support.http import bearer
from tradewarden.alerting import Alert
from tradewarden.auth import Role
from tradewarden.clock import ManualClock
from tradewarden.runtime import SYSTEM, Runtime
from tradewarden.series import Labels
from tradewarden.store import AuditRepository

OPEN = {
    "title": "Orders rejected by the exchange",
    "severity": "P1",
    "services": ["exchange-gw"],
    "bots": ["mm-1"],
    "impact": {"users": 5, "functionality": "order placement", "money_at_risk": 900},
    "reason": "seen on the dashboard",
}


@pytest.fixture
async def keys(runtime: Runtime) -> dict[str, dict[str, str]]:
    viewer = await runtime.auth.create_api_key("viewer", Role.VIEWER, actor=SYSTEM)
    operator = await runtime.auth.create_api_key("operator", Role.OPERATOR, actor=SYSTEM)
    return {"viewer": bearer(viewer.key), "operator": bearer(operator.key)}


async def _open(client: httpx.AsyncClient, keys: dict[str, dict[str, str]]) -> dict[str, Any]:
    response = await client.post("/v1/incidents", json=OPEN, headers=keys["operator"])
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def _audit(runtime: Runtime) -> list[tuple[str, str | None, str, str | None]]:
    async with runtime.database.read_session() as session:
        rows = await AuditRepository(session).list(limit=100)
    return [(r.action, r.target, r.actor, r.reason) for r in reversed(rows)]


async def test_an_operator_opens_and_works_an_incident_to_its_report(
    client: httpx.AsyncClient,
    keys: dict[str, dict[str, str]],
    runtime: Runtime,
    clock: ManualClock,
) -> None:
    opened = await _open(client, keys)
    incident_id = opened["id"]
    assert incident_id == "INC-2027-0001"
    assert (opened["severity"], opened["status"], opened["created_by"]) == (
        "P1",
        "investigating",
        "api_key:operator",
    )
    assert opened["impact"] == OPEN["impact"] | {"money_at_risk": 900.0}
    base, op = f"/v1/incidents/{incident_id}", keys["operator"]
    clock.advance(60)
    steps = [
        ("post", f"{base}/ack", {"reason": "mine"}, 200),
        ("post", f"{base}/notes", {"text": "exchange returns 503"}, 201),
        ("post", f"{base}/status", {"status": "identified", "reason": "exchange outage"}, 200),
        ("patch", base, {"commander": "alice", "root_cause": "exchange maintenance"}, 200),
        (
            "post",
            f"{base}/action-items",
            {"title": "Subscribe to status page", "owner": "bob"},
            201,
        ),
        ("patch", f"{base}/action-items/1", {"status": "done"}, 200),
        ("post", f"{base}/resolve", {"resolution": "exchange back; orders flow"}, 200),
    ]
    for method, url, body, status in steps:
        clock.advance(30)
        response = await client.request(method, url, json=body, headers=op)
        assert response.status_code == status, (url, response.text)

    shown = await client.get(base, headers=keys["viewer"])
    assert shown.status_code == 200
    found = shown.json()
    assert found["status"] == "resolved"
    assert (found["acknowledged_by"], found["commander"]) == ("api_key:operator", "alice")
    assert found["durations"]["time_to_acknowledge_s"] is None  # never notified: by hand
    assert found["durations"]["time_to_resolve_s"] == 60 + 7 * 30
    assert [e["kind"] for e in found["timeline"]] == [
        "opened",
        "acknowledged",
        "note",
        "status_changed",
        "field_changed",
        "field_changed",
        "field_changed",
        "field_changed",
        "resolved",
    ]
    assert [(i["number"], i["status"]) for i in found["action_items"]] == [(1, "done")]

    report = await client.get(f"{base}/report", headers=keys["viewer"])
    assert report.status_code == 200
    assert report.headers["content-type"].startswith("text/markdown")
    assert "**Incident ID:** INC-2027-0001" in report.text
    assert "note (api_key:operator): exchange returns 503" in report.text
    assert "- [x] 1. Subscribe to status page (owner: bob)" in report.text

    audited = [a for a in await _audit(runtime) if a[0].startswith("incident.")]
    assert [(a[0], a[1]) for a in audited] == [
        ("incident.open", incident_id),
        ("incident.ack", incident_id),
        ("incident.note", incident_id),
        ("incident.status", incident_id),
        ("incident.update", incident_id),
        ("incident.action_item.add", incident_id),
        ("incident.action_item.update", incident_id),
        ("incident.resolve", incident_id),
    ]
    assert audited[0][3] == "seen on the dashboard"
    assert {a[2] for a in audited} == {"api_key:operator"}


async def test_listing_filters_and_pages(
    client: httpx.AsyncClient, keys: dict[str, dict[str, str]], clock: ManualClock
) -> None:
    ids = []
    for severity in ("P0", "P1", "P2"):
        clock.advance(60)
        response = await client.post(
            "/v1/incidents", json={**OPEN, "severity": severity}, headers=keys["operator"]
        )
        ids.append(response.json()["id"])
    await client.post(
        f"/v1/incidents/{ids[0]}/resolve", json={"resolution": "x"}, headers=keys["operator"]
    )
    viewer = keys["viewer"]
    page = (await client.get("/v1/incidents?limit=2", headers=viewer)).json()
    assert ([i["id"] for i in page["items"]], page["total"]) == ([ids[2], ids[1]], 3)
    page = (await client.get("/v1/incidents?limit=2&offset=2", headers=viewer)).json()
    assert [i["id"] for i in page["items"]] == [ids[0]]
    page = (await client.get("/v1/incidents?status=resolved", headers=viewer)).json()
    assert [i["id"] for i in page["items"]] == [ids[0]]
    page = (await client.get("/v1/incidents?severity=P1&severity=P2", headers=viewer)).json()
    assert sorted(i["id"] for i in page["items"]) == sorted(ids[1:])
    second = (await client.get(f"/v1/incidents/{ids[1]}", headers=viewer)).json()["created_at"]
    page = (await client.get("/v1/incidents", params={"from": second}, headers=viewer)).json()
    assert [i["id"] for i in page["items"]] == [ids[2], ids[1]]
    page = (await client.get("/v1/incidents", params={"to": second}, headers=viewer)).json()
    assert [i["id"] for i in page["items"]] == [ids[0]]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**OPEN, "severity": "P7"}, "body.severity"),
        ({**OPEN, "title": ""}, "body.title"),
        ({**OPEN, "impact": {"users": -1}}, "body.impact.users"),
        ({**OPEN, "colour": "red"}, "body.colour"),
    ],
)
async def test_a_bad_opening_is_refused_naming_the_field(
    client: httpx.AsyncClient,
    keys: dict[str, dict[str, str]],
    body: dict[str, Any],
    field: str,
) -> None:
    response = await client.post("/v1/incidents", json=body, headers=keys["operator"])
    assert response.status_code == 422
    assert field in response.json()["error"]["message"]
    listed = await client.get("/v1/incidents", headers=keys["viewer"])
    assert listed.json()["total"] == 0  # nothing stored half-way


async def test_errors_unknown_ids_bad_moves_and_roles(
    client: httpx.AsyncClient, keys: dict[str, dict[str, str]], runtime: Runtime
) -> None:
    op, viewer = keys["operator"], keys["viewer"]
    missing = await client.get("/v1/incidents/INC-2027-0404", headers=viewer)
    assert missing.status_code == 404
    assert "INC-2027-0404" in missing.json()["error"]["message"]
    note = await client.post("/v1/incidents/INC-2027-0404/notes", json={"text": "x"}, headers=op)
    assert note.status_code == 404
    incident_id = (await _open(client, keys))["id"]
    base = f"/v1/incidents/{incident_id}"
    same = await client.post(f"{base}/status", json={"status": "investigating"}, headers=op)
    assert same.status_code == 409
    bad = await client.post(f"{base}/status", json={"status": "closed"}, headers=op)
    assert bad.status_code == 422
    assert "body.status" in bad.json()["error"]["message"]
    empty = await client.patch(base, json={}, headers=op)
    assert empty.status_code == 422
    null = await client.patch(base, json={"title": None}, headers=op)
    assert (null.status_code, "title" in null.json()["error"]["message"]) == (422, True)
    no_item = await client.patch(f"{base}/action-items/9", json={"status": "done"}, headers=op)
    assert no_item.status_code == 404
    await client.post(f"{base}/resolve", json={"resolution": "done"}, headers=op)
    again = await client.post(f"{base}/resolve", json={"resolution": "done"}, headers=op)
    assert again.status_code == 409
    late_ack = await client.post(f"{base}/ack", json={}, headers=op)
    assert late_ack.status_code == 409
    denied = await client.post(f"{base}/notes", json={"text": "x"}, headers=viewer)
    assert denied.status_code == 403
    actions = [a[0] for a in await _audit(runtime)]
    assert actions.count("incident.resolve") == 1  # the refused one left no row
    timeline = (await client.get(base, headers=viewer)).json()["timeline"]
    assert [e["kind"] for e in timeline] == ["opened", "resolved"]


async def test_an_alert_flush_opens_an_incident_and_an_alert_ack_acknowledges_it(
    client: httpx.AsyncClient,
    keys: dict[str, dict[str, str]],
    runtime: Runtime,
    clock: ManualClock,
) -> None:
    assert runtime.alerting is not None
    dispatcher = runtime.alerting.dispatcher
    now = int(clock.now() * 1000)
    labels = Labels.of({"alertname": "BotDown", "severity": "critical", "bot": "mm-1"})
    await dispatcher.ingest([Alert(labels, {}, starts_at_ms=now - 30_000)])
    clock.advance(60)
    await dispatcher.flush_due()
    page = (await client.get("/v1/incidents", headers=keys["viewer"])).json()
    [incident] = page["items"]
    assert (incident["severity"], incident["bots"]) == ("P0", ["mm-1"])
    assert incident["durations"]["time_to_detect_s"] == 90.0
    key = incident["group_key"]
    clock.advance(120)
    ack = await client.post(
        f"/v1/alerts/{key}/ack", json={"reason": "on it"}, headers=keys["operator"]
    )
    assert ack.status_code == 200, ack.text
    shown = (await client.get(f"/v1/incidents/{incident['id']}", headers=keys["viewer"])).json()
    assert shown["acknowledged_by"] == "api_key:operator"
    assert shown["timeline"][-1]["kind"] == "acknowledged"


async def test_a_kill_switch_lands_on_the_open_incidents_timelines(
    client: httpx.AsyncClient, keys: dict[str, dict[str, str]]
) -> None:
    op, viewer = keys["operator"], keys["viewer"]
    open_id = (await _open(client, keys))["id"]
    closed_id = (await _open(client, keys))["id"]
    await client.post(f"/v1/incidents/{closed_id}/resolve", json={"resolution": "x"}, headers=op)
    halted = await client.post("/api/kill-switch", json={"reason": "losses"}, headers=op)
    assert halted.status_code == 200, halted.text
    timeline = (await client.get(f"/v1/incidents/{open_id}", headers=viewer)).json()["timeline"]
    control = timeline[-1]
    assert (control["kind"], control["actor"]) == ("control", "api_key:operator")
    assert control["text"] == "trading.halt trading_state: losses"
    assert (control["data"]["from"], control["data"]["to"]) == ("ACTIVE", "HALTED")
    closed = (await client.get(f"/v1/incidents/{closed_id}", headers=viewer)).json()["timeline"]
    assert [e["kind"] for e in closed] == ["opened", "resolved"]
