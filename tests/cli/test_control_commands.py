"""`tradewarden kill | resume | state | breaker ...` against a warden served over real HTTP:
the file back end for the kill switch, the shared Redis (keys of its own) for breakers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydantic import SecretStr
from typer.testing import Result

from guard.state._fixtures import SHARED_REDIS_URL, shared_redis_prefix
from support.cli import cli_against
from support.eventually import eventually
from support.warden import serve_runtime
from tradewarden.auth import PasswordHasher, Role
from tradewarden.clock import ManualClock
from tradewarden.config import ControlConfig, ServiceConfig, Settings
from tradewarden.guard.breaker import BreakerState, CircuitBreaker, RedisBreakerSync
from tradewarden.guard.state import SQLiteBackend, TradingState
from tradewarden.guard.trading import KillSwitch
from tradewarden.runtime import SYSTEM, Runtime

__all__ = ["shared_redis_prefix"]

pytestmark = [pytest.mark.redis, pytest.mark.slow]


@dataclass
class Served:
    url: str
    operator: str
    viewer: str
    state_file: Path
    prefix: str

    async def run(self, *args: str, key: str | None = None) -> Result:
        return await cli_against(self.url, key or self.operator, *args)


@pytest.fixture
async def served(
    settings: Settings, fast_hasher: PasswordHasher, tmp_path: Path, shared_redis_prefix: str
) -> AsyncIterator[Served]:
    state_file = tmp_path / "trading_state.db"
    prefix = f"{shared_redis_prefix}:cb:"
    control = ControlConfig(
        trading_state_file=state_file, breaker_prefix=prefix, breaker_channel=f"{prefix}events"
    )
    runtime = Runtime(
        settings.model_copy(update={"redis_url": SecretStr(SHARED_REDIS_URL)}),
        ServiceConfig(control=control),
        clock=ManualClock(),
        hasher=fast_hasher,
    )
    await runtime.start(bootstrap_admin=False, connect_redis=False)
    operator = await runtime.auth.create_api_key("ops", Role.OPERATOR, actor=SYSTEM)
    viewer = await runtime.auth.create_api_key("watcher", Role.VIEWER, actor=SYSTEM)
    async with serve_runtime(runtime) as url:
        yield Served(url, operator.key, viewer.key, state_file, prefix)


async def test_kill_state_and_resume_over_the_api(served: Served) -> None:
    backend = SQLiteBackend(served.state_file, poll_interval_s=0.05)
    bot = KillSwitch(backend)
    try:
        before = await served.run("state")
        killed = await served.run("kill", "--reason", "emergency", "--message", "by hand")
        await eventually(lambda: bot.state is TradingState.HALTED)
        again = await served.run("kill", "--reason", "twice")
        shown = await served.run("state", "--history", "5")
        resumed = await served.run("resume", "--reason", "all clear")
        await eventually(lambda: bot.active)
    finally:
        bot.close()
        backend.close()

    assert before.exit_code == 0, before.output
    assert "ACTIVE (never changed)" in before.output
    assert killed.exit_code == 0, killed.output
    assert "halted: HALTED since" in killed.output
    assert "by api_key:ops: emergency - by hand (version 1)" in killed.output
    assert "unchanged, already HALTED" in again.output
    assert shown.exit_code == 0, shown.output
    assert "HALTED since" in shown.output
    assert resumed.exit_code == 0, resumed.output
    assert "resumed: ACTIVE since" in resumed.output


async def test_reduce_and_state_as_json(served: Served) -> None:
    reduced = await served.run("reduce", "--reason", "drawdown")
    partial = await served.run("resume", "--reason", "calmer", "--to", "reducing")
    shown = await served.run("state", "--json")
    with_history = await served.run("state", "--json", "--history", "2")

    assert reduced.exit_code == 0, reduced.output
    assert "reducing: REDUCING since" in reduced.output
    assert "unchanged, already REDUCING" in partial.output  # nothing to loosen to REDUCING
    assert '"state": "REDUCING"' in shown.output
    assert '"history": [' in with_history.output


async def test_control_commands_fail_in_one_line(served: Served) -> None:
    no_reason = await served.run("resume")
    as_viewer = await served.run("kill", "--reason", "curious", key=served.viewer)
    assert no_reason.exit_code == 2
    assert "--reason" in no_reason.output
    assert as_viewer.exit_code == 1
    assert "refused the request (403)" in as_viewer.output


async def test_breaker_commands_reach_a_bot_breaker(served: Served) -> None:
    sync = RedisBreakerSync(
        SHARED_REDIS_URL, prefix=served.prefix, channel=f"{served.prefix}events", poll_interval_s=60
    )
    with sync:
        breaker = CircuitBreaker("jupiter")
        sync.attach(breaker)
        opened = await served.run("breaker", "open", "jupiter", "--reason", "flaky")
        await eventually(lambda: breaker.state is BreakerState.FORCED_OPEN)
        listed = await served.run("breaker", "list", "--json")
        table = await served.run("breaker", "list")
        closed = await served.run("breaker", "close", "jupiter", "--reason", "recovered")
        await eventually(lambda: breaker.state is BreakerState.CLOSED)
        unknown = await served.run("breaker", "reset", "nobody", "--reason", "typo")

    assert opened.exit_code == 0, opened.output
    assert "jupiter: no state -> FORCED_OPEN" in opened.output
    assert '"state": "FORCED_OPEN"' in listed.output
    assert "FORCED_OPEN" in table.output
    assert "jupiter: FORCED_OPEN -> CLOSED" in closed.output
    assert unknown.exit_code == 1
    assert "404: no circuit breaker 'nobody'" in unknown.output
