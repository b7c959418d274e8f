"""Runbook remediation buttons through the real app: pressing one runs the same control
call as the control endpoints (the kill switch on the file trading-state back end),
audited with who, why, the incident, runbook and action, and on the incident's timeline;
an action marked automatic runs by itself only when ``runbooks.allow_automatic`` lists it."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from support.http import bearer
from tradewarden.alerting import Alert
from tradewarden.api import create_app
from tradewarden.auth import PasswordHasher, Role
from tradewarden.clock import ManualClock
from tradewarden.config import ControlConfig, ServiceConfig, Settings
from tradewarden.runbooks import RunbooksConfig
from tradewarden.runtime import SYSTEM, Runtime
from tradewarden.series import Labels
from tradewarden.store import AuditRepository

RUNBOOK = """\
id: loss-buttons
title: Loss seen
summary: Money is leaving; halt first.
applies_to:
  alertnames: [LossSeen]
symptoms: ["Balances fall."]
diagnosis: ["Read the balances."]
resolution: ["Halt, then find the cause."]
actions:
  - id: halt
    title: Halt trading in every bot
    action: kill_switch.halt
    params: {{message: "loss on {{{{ labels.bot }}}}"}}
    automatic: {automatic}
  - id: breaker
    title: Open the venue's breaker
    action: breaker.open
    params: {{breaker: "{{{{ labels.venue }}}}"}}
"""


@dataclass
class Warden:
    http: httpx.AsyncClient
    runtime: Runtime
    clock: ManualClock
    viewer: dict[str, str]
    operator: dict[str, str]

    async def incident_for_alert(self) -> str:
        """Fire LossSeen (critical: an incident opens); return the incident's id."""
        now = int(self.clock.now() * 1000)
        labels = {"alertname": "LossSeen", "severity": "critical", "bot": "mm-1", "venue": "x"}
        alerting = self.runtime.alerting
        assert alerting is not None
        await alerting.dispatcher.ingest(
            [Alert(Labels.of(labels), {}, starts_at_ms=now, ends_at_ms=now + 600_000)]
        )
        self.clock.advance(120)
        await alerting.dispatcher.flush_due()
        assert self.runtime.incidents is not None
        await self.runtime.incidents.diagnoses.wait()
        listed = await self.http.get("/v1/incidents", headers=self.viewer)
        [incident] = listed.json()["items"]
        return str(incident["id"])

    async def incident(self, incident_id: str) -> dict[str, Any]:
        response = await self.http.get(f"/v1/incidents/{incident_id}", headers=self.viewer)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def trading_state(self) -> str:
        response = await self.http.get("/v1/trading/state", headers=self.viewer)
        assert response.status_code == 200, response.text
        return str(response.json()["state"])

    async def audit(self, action: str) -> list[Any]:
        async with self.runtime.database.read_session() as session:
            rows = await AuditRepository(session).list(limit=100)
        return [r for r in rows if r.action == action]


@contextlib.asynccontextmanager
async def warden_with(
    settings: Settings,
    hasher: PasswordHasher,
    tmp_path: Path,
    *,
    automatic: bool = False,
    allow: tuple[str, ...] = (),
) -> AsyncIterator[Warden]:
    folder = tmp_path / "runbooks"
    folder.mkdir()
    text = RUNBOOK.format(automatic="true" if automatic else "false")
    (folder / "loss.yml").write_text(text, encoding="utf-8")
    control = ControlConfig(
        trading_state_backend="file", trading_state_file=tmp_path / "bots" / "state.db"
    )
    runbooks = RunbooksConfig.model_validate(
        {"directories": [str(folder)], "allow_automatic": list(allow)}
    )
    clock = ManualClock()
    config = ServiceConfig(control=control, runbooks=runbooks)
    runtime = Runtime(settings, config, clock=clock, hasher=hasher)
    await runtime.start(bootstrap_admin=False, connect_redis=False, run_probes=True)
    try:
        viewer = await runtime.auth.create_api_key("viewer", Role.VIEWER, actor=SYSTEM)
        operator = await runtime.auth.create_api_key("operator", Role.OPERATOR, actor=SYSTEM)
        transport = httpx.ASGITransport(
            app=create_app(runtime, manage_runtime=False), client=("127.0.0.1", 40003)
        )
        async with httpx.AsyncClient(transport=transport, base_url="http://w") as http:
            yield Warden(http, runtime, clock, bearer(viewer.key), bearer(operator.key))
    finally:
        await runtime.close()


@pytest.fixture
async def warden(
    settings: Settings, fast_hasher: PasswordHasher, tmp_path: Path
) -> AsyncIterator[Warden]:
    async with warden_with(settings, fast_hasher, tmp_path) as running:
        yield running


async def test_pressing_halt_halts_audited_and_on_the_timeline(warden: Warden) -> None:
    incident_id = await warden.incident_for_alert()
    assert await warden.trading_state() == "ACTIVE"  # not automatic: nothing ran by itself

    response = await warden.http.post(
        f"/v1/incidents/{incident_id}/actions/halt",
        json={"reason": "loss confirmed on the dashboard"},
        headers=warden.operator,
    )
    assert response.status_code == 200, response.text
    pressed = response.json()
    assert (pressed["runbook"], pressed["action"], pressed["name"]) == (
        "loss-buttons",
        "halt",
        "kill_switch.halt",
    )
    assert pressed["details"]["to"] == "HALTED"
    assert await warden.trading_state() == "HALTED"

    [row] = await warden.audit("trading.halt")
    assert (row.actor, row.outcome, row.reason, row.target) == (
        "api_key:operator",
        "success",
        "loss confirmed on the dashboard",
        "trading_state",
    )
    assert row.details["incident"] == incident_id
    assert (row.details["runbook"], row.details["action"]) == ("loss-buttons", "halt")
    assert row.details["message"] == "loss on mm-1"  # rendered from the alert's labels

    found = await warden.incident(incident_id)
    [entry] = [e for e in found["timeline"] if e["kind"] == "control"]
    assert entry["actor"] == "api_key:operator"
    assert entry["data"]["action"] == "trading.halt"
    assert entry["data"]["reason"] == "loss confirmed on the dashboard"
    assert (entry["data"]["runbook_action"], entry["data"]["incident"]) == ("halt", incident_id)


async def test_a_viewer_is_refused_and_nothing_halts(warden: Warden) -> None:
    incident_id = await warden.incident_for_alert()
    response = await warden.http.post(
        f"/v1/incidents/{incident_id}/actions/halt",
        json={"reason": "just looking"},
        headers=warden.viewer,
    )
    assert response.status_code == 403, response.text
    assert await warden.trading_state() == "ACTIVE"
    assert await warden.audit("trading.halt") == []


async def test_unknown_action_404_missing_reason_422_no_redis_503(warden: Warden) -> None:
    incident_id = await warden.incident_for_alert()
    base = f"/v1/incidents/{incident_id}/actions"
    unknown = await warden.http.post(
        f"{base}/reboot", json={"reason": "x"}, headers=warden.operator
    )
    assert unknown.status_code == 404, unknown.text
    assert "reboot" in unknown.text

    missing = await warden.http.post(f"{base}/halt", json={}, headers=warden.operator)
    assert missing.status_code == 422, missing.text
    assert "reason" in missing.text

    no_incident = await warden.http.post(
        "/v1/incidents/INC-2099-0001/actions/halt", json={"reason": "x"}, headers=warden.operator
    )
    assert no_incident.status_code == 404, no_incident.text

    breaker = await warden.http.post(
        f"{base}/breaker", json={"reason": "venue x failing"}, headers=warden.operator
    )
    assert breaker.status_code == 503, breaker.text  # no Redis: breakers are not set up
    [failed] = await warden.audit("breaker.open")
    assert (failed.outcome, failed.target, failed.details["incident"]) == (
        "error",
        "x",
        incident_id,
    )
    assert await warden.trading_state() == "ACTIVE"


async def test_an_allowed_automatic_halt_runs_by_itself_audited(
    settings: Settings, fast_hasher: PasswordHasher, tmp_path: Path
) -> None:
    async with warden_with(
        settings, fast_hasher, tmp_path, automatic=True, allow=("kill_switch.halt",)
    ) as warden:
        incident_id = await warden.incident_for_alert()
        assert await warden.trading_state() == "HALTED"
        [row] = await warden.audit("trading.halt")
        assert (row.actor, row.actor_type, row.outcome) == (
            "system:runbook:loss-buttons",
            "system",
            "success",
        )
        assert row.details["incident"] == incident_id
        found = await warden.incident(incident_id)
        [entry] = [e for e in found["timeline"] if e["kind"] == "control"]
        assert entry["actor"] == "system:runbook:loss-buttons"


@pytest.mark.parametrize(
    ("automatic", "allow"),
    [(True, ()), (True, ("kill_switch.reduce",)), (False, ("kill_switch.halt",))],
    ids=["automatic-not-allowed", "another-action-allowed", "allowed-not-automatic"],
)
async def test_an_action_not_both_automatic_and_allowed_never_runs_by_itself(
    settings: Settings,
    fast_hasher: PasswordHasher,
    tmp_path: Path,
    automatic: bool,
    allow: tuple[str, ...],
) -> None:
    async with warden_with(
        settings, fast_hasher, tmp_path, automatic=automatic, allow=allow
    ) as warden:
        incident_id = await warden.incident_for_alert()
        assert await warden.trading_state() == "ACTIVE"
        assert await warden.audit("trading.halt") == []
        found = await warden.incident(incident_id)
        assert [e for e in found["timeline"] if e["kind"] == "control"] == []
        assert any(e["data"].get("runbook") == "loss-buttons" for e in found["timeline"])
