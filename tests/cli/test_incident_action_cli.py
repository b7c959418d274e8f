"""`tradewarden incident action ID ACTION_ID --reason R` against a warden served over real
HTTP: the runbook's halt button halts the file trading-state back end, audited."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from typer.testing import Result

from support.cli import cli_against
from support.warden import serve_runtime
from tradewarden.alerting import Alert
from tradewarden.auth import PasswordHasher, Role
from tradewarden.clock import ManualClock
from tradewarden.config import ControlConfig, ServiceConfig, Settings
from tradewarden.guard.state import TradingState
from tradewarden.runbooks import RunbooksConfig
from tradewarden.runtime import SYSTEM, Runtime
from tradewarden.series import Labels
from tradewarden.store import AuditRepository, IncidentFilter

pytestmark = [pytest.mark.slow]

RUNBOOK = """\
id: loss-halt
title: Loss seen
summary: Halt first.
applies_to:
  alertnames: [LossSeen]
symptoms: ["Balances fall."]
diagnosis: ["Read the balances."]
resolution: ["Halt."]
actions:
  - id: halt
    title: Halt trading
    action: kill_switch.halt
"""


@pytest.fixture
async def served(
    settings: Settings, fast_hasher: PasswordHasher, tmp_path: Path
) -> AsyncIterator[tuple[str, str, Runtime]]:
    """Serve a warden with the runbook; yield its URL, an operator's key and the runtime."""
    folder = tmp_path / "runbooks"
    folder.mkdir()
    (folder / "loss.yml").write_text(RUNBOOK, encoding="utf-8")
    config = ServiceConfig(
        control=ControlConfig(
            trading_state_backend="file", trading_state_file=tmp_path / "bots" / "state.db"
        ),
        runbooks=RunbooksConfig(directories=(str(folder),)),
    )
    runtime = Runtime(settings, config, clock=ManualClock(), hasher=fast_hasher)
    await runtime.start(bootstrap_admin=False, connect_redis=False)
    key = await runtime.auth.create_api_key("ops", Role.OPERATOR, actor=SYSTEM)
    async with serve_runtime(runtime, access_log=False) as url:
        yield url, key.key, runtime  # closed by serve_runtime


async def _run(served: tuple[str, str, Runtime], *args: str) -> Result:
    url, key, _runtime = served
    return await cli_against(url, key, *args)


async def _incident(runtime: Runtime) -> str:
    alerting, incidents = runtime.alerting, runtime.incidents
    assert alerting is not None
    assert incidents is not None
    now = int(runtime.clock.now() * 1000)
    labels = Labels.of({"alertname": "LossSeen", "severity": "critical"})
    await alerting.dispatcher.ingest(
        [Alert(labels, {}, starts_at_ms=now, ends_at_ms=now + 900_000)]
    )
    assert isinstance(runtime.clock, ManualClock)
    runtime.clock.advance(120)
    await alerting.dispatcher.flush_due()
    async with runtime.database.read_session() as session:
        rows, _total = await incidents.list(session, IncidentFilter())
    [incident] = rows
    return incident.public_id


async def test_the_cli_presses_a_runbook_action(served: tuple[str, str, Runtime]) -> None:
    runtime = served[2]
    incident_id = await _incident(runtime)
    pressed = await _run(
        served, "incident", "action", incident_id, "halt", "--reason", "loss confirmed"
    )
    assert pressed.exit_code == 0, pressed.output
    assert f"kill_switch.halt trading_state (runbook loss-halt, action halt) on {incident_id}" in (
        pressed.output
    )
    assert runtime.control is not None
    assert (await runtime.control.trading.current()).state is TradingState.HALTED
    async with runtime.database.read_session() as session:
        [row] = [
            r for r in await AuditRepository(session).list(limit=50) if r.action == "trading.halt"
        ]
    assert (row.actor, row.reason, row.details["incident"]) == (
        "api_key:ops",
        "loss confirmed",
        incident_id,
    )

    unknown = await _run(served, "incident", "action", incident_id, "reboot", "--reason", "x")
    assert unknown.exit_code != 0
    assert "reboot" in unknown.output

    missing = await _run(served, "incident", "action", incident_id, "halt")
    assert missing.exit_code != 0
    assert "--reason" in missing.output
