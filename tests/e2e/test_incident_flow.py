"""Issue 7's "done when", end to end on a served warden: a monitored target fails, its
``MonitorDown`` (P0) notifies the team and opens an incident, the user's runbook for it
runs its automated steps against the real PostgreSQL and Redis, the failing target's
/health and the warden's own series, and their outputs are on the timeline; the on-call
operator acknowledges (the escalation stops paging), the target recovers, the operator
resolves, the Markdown report holds the true timeline with its times, and the KPIs of a
window around it count it with the MTTA and MTTR of its record.

Expected values are read back from the incident record, never from a wall clock.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from e2e._incident_support import (
    PG_ENV,
    REDIS_ENV,
    REDIS_URL,
    Inbox,
    JumpClock,
    Target,
    Warden,
    channel_env,
    postgres_url,
    redis_list,
    running_warden,
    scratch_table,
    service_config,
    write_runbook,
)
from support.eventually import eventually
from tradewarden.auth import PasswordHasher
from tradewarden.config import Settings
from tradewarden.incidents import iso
from tradewarden.store import AuditEntry

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis, pytest.mark.timeout(120)]

MONITOR = "e2e-venue"
BACKLOG = 37  # the Redis list's length the runbook reads
JOBS = 4242  # the PostgreSQL row the runbook reads
STEP_WAIT_MIN = 1.0  # the escalation's wait before its second step


def _runbook(table: str, redis_key: str) -> dict[str, Any]:
    """The user's runbook for this monitor's MonitorDown: more specific than the bundled
    ``monitor-down`` (alert name and a matcher), so it is the one that runs."""
    return {
        "id": "e2e-venue-down",
        "title": "Venue API down",
        "summary": "The venue's API monitor is DOWN: its queue, its orders, its /health.",
        "applies_to": {"alertnames": ["MonitorDown"], "matchers": [f'monitor="{MONITOR}"']},
        "symptoms": ["MonitorDown fires for the venue's API."],
        "diagnosis": ["Read the steps' outputs on the incident's timeline."],
        "resolution": ["Restart the venue adapter; watch the monitor go UP."],
        "automated": [
            {
                "id": "backlog",
                "title": "Orders waiting in the queue",
                "kind": "redis",
                "connection": "app-redis",
                "command": ["LLEN", redis_key],
            },
            {
                "id": "open-orders",
                "title": "Open orders of the queue",
                "kind": "sql",
                "connection": "app-db",
                "query": f"SELECT queue, jobs FROM {table} WHERE queue = :queue",  # noqa: S608 - a generated table name
                "params": {"queue": "{{ labels.queue }}"},
            },
            {
                "id": "health",
                "title": "The venue adapter's /health",
                "kind": "http",
                "url": "http://{{ labels.instance }}/health",
            },
            {
                "id": "state",
                "title": "The monitor's DOWN series",
                "kind": "promql",
                "query": 'monitor_state{monitor="{{ labels.monitor }}", state="DOWN"}',
            },
        ],
    }


def _at(text: str | None) -> datetime:
    assert text is not None
    return datetime.fromisoformat(text)


async def _incident(http: httpx.AsyncClient, incident_id: str) -> dict[str, Any]:
    response = await http.get(f"/v1/incidents/{incident_id}")
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


async def _escalation(http: httpx.AsyncClient, key: str) -> dict[str, Any]:
    response = await http.get("/v1/escalations")
    assert response.status_code == 200, response.text
    [row] = [e for e in response.json() if e["key"] == key]
    found: dict[str, Any] = row
    return found


def _kinds(incident: dict[str, Any]) -> list[str]:
    return [entry["kind"] for entry in incident["timeline"]]


async def test_a_failing_target_runs_its_runbook_onto_an_incident_acked_resolved_and_counted(
    settings: Settings,
    fast_hasher: PasswordHasher,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    clock = JumpClock()
    async with (
        Inbox() as inbox,
        Target() as target,
        scratch_table({"orders": JOBS, "signals": 3}) as table,
        redis_list(BACKLOG) as redis_key,
    ):
        for name, value in channel_env(inbox).items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv(PG_ENV, postgres_url())
        monkeypatch.setenv(REDIS_ENV, REDIS_URL)
        write_runbook(tmp_path / "runbooks", _runbook(table, redis_key))
        monitor = {
            "kind": "http",
            "name": MONITOR,
            "url": target.url,
            "interval_s": 0.5,
            "timeout_s": 0.5,
            "labels": {"instance": target.host, "queue": "orders"},
        }
        config = service_config(
            inbox,
            monitors=[monitor],
            incidents={"open_for": ["P0", "P1"]},
            escalation_policies=[
                {
                    "name": "venue-oncall",
                    "severities": ["P0"],
                    "steps": [
                        {"channels": ["page1"], "wait_minutes": STEP_WAIT_MIN},
                        {"channels": ["page2"], "wait_minutes": STEP_WAIT_MIN},
                    ],
                }
            ],
            runbooks={
                "directories": [str(tmp_path / "runbooks")],
                "step_timeout": 10,
                "connections": [
                    {"name": "app-db", "kind": "postgres", "url_env": PG_ENV},
                    {"name": "app-redis", "kind": "redis", "url_env": REDIS_ENV},
                ],
            },
        )
        async with (
            running_warden(settings, config, clock=clock, hasher=fast_hasher) as warden,
            httpx.AsyncClient(base_url=warden.url, headers=warden.headers) as http,
        ):
            assert warden.runtime.runbooks.get("e2e-venue-down").source.endswith(
                "e2e-venue-down.yml"
            )
            await _flow(warden, http, inbox=inbox, target=target, clock=clock)


async def _flow(  # noqa: PLR0915 - one story, told in order
    warden: Warden,
    http: httpx.AsyncClient,
    *,
    inbox: Inbox,
    target: Target,
    clock: JumpClock,
) -> None:
    # -- the target fails: MonitorDown notifies the team and pages the on-call -----------
    target.status = 500

    def fired() -> bool:
        return any(
            d.status == "firing" and d.labels.get("alertname") == "MonitorDown"
            for d in inbox.to("chat")
        )

    await eventually(fired, timeout_s=20)
    [notice] = [d for d in inbox.to("chat") if d.status == "firing"]
    assert notice.labels["monitor"] == MONITOR
    assert notice.labels["severity"] == "critical"  # P0: the policy opens an incident
    await eventually(lambda: len(inbox.to("page1")) == 1, timeout_s=10)

    # -- an incident opened for it ---------------------------------------------------------
    async def opened() -> bool:
        response = await http.get("/v1/incidents")
        assert response.status_code == 200, response.text
        return bool(response.json()["items"])

    await eventually(opened, timeout_s=10)
    [listed] = (await http.get("/v1/incidents")).json()["items"]
    incident_id = listed["id"]
    assert listed["severity"] == "P0"
    assert listed["status"] == "investigating"
    assert listed["title"] == f"MonitorDown: Monitor {MONITOR} is DOWN"

    # -- its runbook's automated steps ran onto the timeline --------------------------------
    async def diagnosed() -> bool:
        found = await _incident(http, incident_id)
        return any(
            e["kind"] == "note" and e["data"].get("runbook") == "e2e-venue-down"
            for e in found["timeline"]
        )

    await eventually(diagnosed, timeout_s=30)
    found = await _incident(http, incident_id)
    steps = {e["data"]["step_id"]: e for e in found["timeline"] if e["kind"] == "runbook_step"}
    assert list(steps) == ["backlog", "open-orders", "health", "state"]
    backlog = steps["backlog"]["data"]
    assert backlog["status"] == "ok", backlog
    assert backlog["output"]["reply"] == BACKLOG
    orders = steps["open-orders"]["data"]
    assert orders["status"] == "ok", orders
    assert orders["output"]["rows"] == [{"queue": "orders", "jobs": JOBS}]
    health = steps["health"]["data"]
    # The target is failing as the diagnosis reads it: the step says so.
    assert health["status"] == "failed", health
    assert health["output"]["status"] == 500
    assert health["output"]["body"] == {"status": "down", "db": "timeout"}
    assert health["error"] == "HTTP 500"
    state = steps["state"]["data"]
    assert state["status"] == "ok", state
    [series] = state["output"]["result"]
    assert series["metric"]["monitor"] == MONITOR
    assert float(series["value"][1]) == 1.0
    note = next(e for e in found["timeline"] if e["kind"] == "note")
    assert note["data"] == {"runbook": "e2e-venue-down", "steps": 4}
    assert found["notified_at"] is not None
    assert found["acknowledged_at"] is None
    group_key = found["group_key"]
    escalation = await _escalation(http, group_key)
    assert escalation["status"] == "open"
    assert escalation["fired"] == 1

    # -- the on-call operator acknowledges: the incident and its escalation -------------------
    acked = await http.post(
        f"/v1/incidents/{incident_id}/ack", json={"reason": "looking at the venue adapter"}
    )
    assert acked.status_code == 200, acked.text
    assert acked.json()["changed"] is True
    found = await _incident(http, incident_id)
    assert found["acknowledged_at"] is not None
    operator = found["acknowledged_by"]
    assert operator.endswith("on-call")
    escalation = await _escalation(http, group_key)
    assert escalation["status"] == "acknowledged"
    assert escalation["acknowledged_by"] == operator
    assert escalation["due_at"] is None
    # The second step's time comes (a wall-clock step): nobody more is paged.
    clock.jump(STEP_WAIT_MIN * 60 + 1)
    escalator = warden.runtime.escalator
    assert escalator is not None
    assert await escalator.run_due() == 0
    escalation = await _escalation(http, group_key)
    assert (escalation["status"], escalation["fired"]) == ("acknowledged", 1)
    assert inbox.to("page2") == []

    # -- the target recovers: the alert resolves and the incident is monitored -----------
    target.status = 200

    def resolved() -> bool:
        return any(
            d.status == "resolved" and d.labels.get("alertname") == "MonitorDown"
            for d in inbox.to("chat")
        )

    await eventually(resolved, timeout_s=20)

    async def monitoring() -> bool:
        return bool((await _incident(http, incident_id))["status"] == "monitoring")

    await eventually(monitoring, timeout_s=10)

    # -- the operator resolves it with what fixed it ----------------------------------------
    fix = "Restarted the venue adapter; the monitor is UP again."
    done = await http.post(f"/v1/incidents/{incident_id}/resolve", json={"resolution": fix})
    assert done.status_code == 200, done.text
    record = await _incident(http, incident_id)
    assert record["status"] == "resolved"
    assert record["resolved_by"] == operator
    assert record["resolution"] == fix
    assert inbox.to("page2") == []

    _check_timeline(record)
    await _check_audited(warden, record)
    await _check_report(http, record)
    await _check_kpis(http, record)


def _check_timeline(record: dict[str, Any]) -> None:
    """The timeline's entries in the order things happened."""
    kinds = _kinds(record)
    first = {kind: kinds.index(kind) for kind in dict.fromkeys(kinds)}
    steps = [i for i, kind in enumerate(kinds) if kind == "runbook_step"]
    assert first["opened"] < first["alert_fired"] < first["notified"] < steps[0]
    assert steps[-1] < first["acknowledged"] < first["alert_resolved"] < first["resolved"]
    assert kinds[-1] == "resolved"
    # The escalation's first step paged; the acknowledgement stopped the second.
    [escalated] = [i for i, kind in enumerate(kinds) if kind == "escalated"]
    assert first["opened"] < escalated < first["acknowledged"]
    ats = [_at(entry["at"]) for entry in record["timeline"]]
    assert ats == sorted(ats)
    acknowledged = record["timeline"][first["acknowledged"]]
    assert _at(acknowledged["at"]) == _at(record["acknowledged_at"])
    resolved = record["timeline"][first["resolved"]]
    assert _at(resolved["at"]) == _at(record["resolved_at"])
    notified = record["timeline"][first["notified"]]
    assert _at(notified["at"]) == _at(record["notified_at"])


async def _check_audited(warden: Warden, record: dict[str, Any]) -> None:
    """The operator's acknowledgement and resolution are in the audit log."""
    async with warden.runtime.database.read_session() as session:
        rows = list(
            await session.scalars(
                select(AuditEntry).where(AuditEntry.target == record["id"]).order_by(AuditEntry.id)
            )
        )
    audited = [(row.action, row.actor) for row in rows]
    operator = record["acknowledged_by"]
    assert audited == [("incident.ack", operator), ("incident.resolve", operator)]
    assert rows[0].reason == "looking at the venue adapter"


async def _check_report(http: httpx.AsyncClient, record: dict[str, Any]) -> None:
    """The Markdown report holds the key times and every timeline entry, in order."""
    response = await http.get(f"/v1/incidents/{record['id']}/report")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/markdown")
    report = response.text
    assert f"**Incident ID:** {record['id']}" in report
    assert "**Severity:** P0" in report
    assert "**Status:** Resolved" in report
    operator = record["acknowledged_by"]
    for line in (
        f"- Impact started: {iso(_at(record['impact_started_at']))}",
        f"- Detected: {iso(_at(record['detected_at']))}",
        f"- Notified: {iso(_at(record['notified_at']))}",
        f"- Acknowledged: {iso(_at(record['acknowledged_at']))} by {operator}",
        f"- Resolved: {iso(_at(record['resolved_at']))} by {operator}",
    ):
        assert line in report, line
    assert record["resolution"] in report.split("### Resolution", 1)[1]
    timeline = report.split("### Timeline", 1)[1].split("### Root Cause", 1)[0]
    lines = [line for line in timeline.splitlines() if line.startswith("- **")]
    expected = [
        f"- **{iso(_at(e['at']))}** - {e['kind']} ({e['actor']}): {e['text']}"
        for e in record["timeline"]
    ]
    assert lines == expected
    # The steps' lines are there with the runbook's titles and outcomes.
    for text in (
        "Orders waiting in the queue: ok",
        "Open orders of the queue: ok",
        "The venue adapter's /health: failed",
        "The monitor's DOWN series: ok",
    ):
        assert any(line.endswith(f"runbook_step (runbook): {text}") for line in lines), text


async def _check_kpis(http: httpx.AsyncClient, record: dict[str, Any]) -> None:
    """The KPIs of a window around the incident count it, with its record's MTTA, MTTR."""
    started = _at(record["impact_started_at"])
    window = {
        "from": (started - timedelta(minutes=10)).isoformat(),
        "to": (_at(record["resolved_at"]) + timedelta(minutes=10)).isoformat(),
    }
    response = await http.get("/v1/kpis", params=window)
    assert response.status_code == 200, response.text
    kpis = response.json()
    incidents = kpis["incidents"]
    assert (incidents["total"], incidents["resolved"], incidents["open"]) == (1, 1, 0)
    assert incidents["by_severity"] == {"P0": 1, "P1": 0, "P2": 0, "P3": 0}
    mtta_s = (_at(record["acknowledged_at"]) - _at(record["notified_at"])).total_seconds()
    mttr_s = (_at(record["resolved_at"]) - started).total_seconds()
    for name, expected in (("mtta", mtta_s), ("mttr", mttr_s)):
        stat = kpis[name]["all"]
        assert stat["count"] == 1, (name, stat)
        assert stat["mean_s"] == pytest.approx(expected, abs=1.0), (name, stat)
        assert kpis[name]["P0"]["mean_s"] == pytest.approx(expected, abs=1.0), (name, kpis[name])
    headline = {k["name"]: k for k in kpis["kpis"]}
    assert headline["mtta"]["value"] == pytest.approx(mtta_s, abs=1.0)
    assert headline["mttr"]["value"] == pytest.approx(mttr_s, abs=1.0)
    assert kpis["p0p1_resolved_within_2h"]["denominator"] == 1
