"""`tradewarden ack`, `escalations` and `oncall ...` against a warden served over real HTTP."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import pytest
from typer.testing import Result

from escalation.conftest import PAGE, PEOPLE, SCHEDULE, alert, channels
from notify.conftest import wire
from support.cli import cli_against
from support.notify_wire import WireServer
from support.warden import serve_runtime
from tradewarden.auth import PasswordHasher, Role
from tradewarden.clock import ManualClock, utc_datetime
from tradewarden.config import ServiceConfig, Settings
from tradewarden.runtime import SYSTEM, Runtime
from tradewarden.store import AuditRepository

__all__ = ["wire"]

pytestmark = [pytest.mark.slow]


@pytest.fixture
async def served(
    settings: Settings,
    fast_hasher: PasswordHasher,
    wire: WireServer,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[tuple[str, str, Runtime]]:
    """Serve a warden with people and a schedule; yield its URL, an operator key, the runtime."""
    for channel in channels():
        monkeypatch.setenv(str(channel.url_env), f"json://127.0.0.1:{wire.port}/{channel.name}")
    config = ServiceConfig(
        channels=tuple(channels()),
        people=PEOPLE,
        schedules=(SCHEDULE,),
        escalation_policies=(PAGE,),
    )
    runtime = Runtime(
        settings, config, clock=ManualClock(start=1_800_000_000.0), hasher=fast_hasher
    )
    await runtime.start(bootstrap_admin=False)
    key = await runtime.auth.create_api_key("ops", Role.OPERATOR, actor=SYSTEM)
    async with serve_runtime(runtime, access_log=False) as url:
        yield url, key.key, runtime


async def _run(served: tuple[str, str, Runtime], *args: str) -> Result:
    url, key, _runtime = served
    return await cli_against(url, key, *args)


async def test_ack_stops_the_escalation_and_is_audited(served: tuple[str, str, Runtime]) -> None:
    runtime = served[2]
    assert runtime.escalator is not None
    await runtime.escalator.open("bot/down", alert(), PAGE)
    await runtime.escalator.run_due()

    listed = await _run(served, "escalations")
    assert listed.exit_code == 0, listed.output
    assert "bot/down" in listed.output
    acked = await _run(served, "ack", "bot/down", "--reason", "looking")
    assert acked.exit_code == 0, acked.output
    assert "acknowledged: bot-down fired" in acked.output
    again = await _run(served, "ack", "bot/down", "--reason", "looking")
    assert "already acknowledged by api_key:ops" in again.output
    missing = await _run(served, "ack", "nothing", "--reason", "x")
    assert missing.exit_code == 1
    assert "404" in missing.output
    async with runtime.database.read_session() as session:
        entries = await AuditRepository(session).list(action="alert.ack")
    assert [(e.target, e.reason) for e in entries] == [("bot/down", "looking")] * 2


async def test_oncall_show_and_an_override_over_the_cli(served: tuple[str, str, Runtime]) -> None:
    now = utc_datetime(served[2].clock.now())
    shown = await _run(served, "oncall", "show", "--json")
    assert shown.exit_code == 0, shown.output
    assert '"on_call": "alice"' in shown.output

    added = await _run(
        served,
        "oncall",
        "override",
        "ops",
        "--layer",
        "primary",
        "--replaces",
        "alice",
        "--replacement",
        "carol",
        "--from",
        now.strftime("%Y-%m-%dT%H:%M:%S"),
        "--to",
        (now + dt.timedelta(hours=4)).strftime("%Y-%m-%dT%H:%M:%S"),
        "--reason",
        "swap",
    )
    assert added.exit_code == 0, added.output
    assert "carol for alice" in added.output
    shown = await _run(served, "oncall", "show", "--json")
    assert '"on_call": "carol"' in shown.output

    refused = await _run(
        served,
        "oncall",
        "override",
        "ops",
        "--replaces",
        "alice",
        "--replacement",
        "zoe",
        "--from",
        "2027-01-15T00:00:00",
        "--to",
        "2027-01-16T00:00:00",
        "--reason",
        "x",
    )
    assert refused.exit_code == 1
    assert "body.replacement" in refused.output

    removed = await _run(served, "oncall", "remove-override", "1", "--reason", "back")
    assert removed.exit_code == 0, removed.output
    shown = await _run(served, "oncall", "show", "--json")
    assert '"on_call": "alice"' in shown.output
