"""TradingControl on real back ends: a halt is stored before it returns, bots on the same
store refuse orders, the latch rules hold, and an unavailable store is an error, not a
change kept for later."""

from __future__ import annotations

from pathlib import Path

import pytest

from guard.state._fixtures import SHARED_REDIS_URL
from support.eventually import eventually
from support.redis_server import RedisServer
from tradewarden.clock import ManualClock
from tradewarden.control import ControlUnavailableError, TradingControl
from tradewarden.guard.state import (
    MemoryBackend,
    RedisBackend,
    SQLiteBackend,
    StateBackend,
    StateChange,
    TradingState,
)
from tradewarden.guard.trading import DenialReason, KillSwitch, OrderSide
from tradewarden.redisconn._url import Redactor


def _control(backend: StateBackend, clock: ManualClock) -> TradingControl:
    return TradingControl(backend, clock=clock, kind="test")


async def test_a_halt_is_stored_before_it_returns_and_a_bot_refuses_orders(
    tmp_path: Path, clock: ManualClock
) -> None:
    path = tmp_path / "state.db"
    control = _control(SQLiteBackend(path), clock)
    bot_backend = SQLiteBackend(path, poll_interval_s=0.05)
    bot = KillSwitch(bot_backend)
    try:
        # A new file opened by the watch and the first load at once may read "locked"
        # for one poll (the switch then fails closed): wait for the first good read.
        await eventually(lambda: bot.active)
        outcome = await control.halt("alice", "emergency", "Manual activation")
        assert outcome.changed
        assert outcome.current.state is TradingState.HALTED
        # Stored: a fresh reader of the file sees it at once, without any watch.
        stored = SQLiteBackend(path).load()
        assert stored == outcome.current
        assert (stored.actor, stored.reason, stored.message) == (
            "alice",
            "emergency",
            "Manual activation",
        )
        assert stored.changed_at == clock.now()
        await eventually(lambda: not bot.active)
        decision = bot.check_order(OrderSide.BUY, 10.0, 0.0)
        assert decision.reason is DenialReason.TRADING_HALTED
    finally:
        bot.close()
        bot_backend.close()
        control.close()


async def test_halt_only_tightens_and_resume_is_the_way_back(clock: ManualClock) -> None:
    control = _control(MemoryBackend(), clock)
    first = await control.halt("alice", "first")
    again = await control.halt("bob", "second")
    assert not again.changed
    assert again.current == first.current  # the first halt's who and why are kept
    reduced = await control.reduce("bob", "looser than halted")
    assert not reduced.changed
    assert reduced.current.state is TradingState.HALTED

    partial = await control.resume("carol", "close positions", to=TradingState.REDUCING)
    assert partial.changed
    assert partial.current.state is TradingState.REDUCING
    back = await control.resume("carol", "all clear")
    assert back.current.state is TradingState.ACTIVE
    assert back.previous.state is TradingState.REDUCING
    idle = await control.resume("carol", "nothing to do")
    assert not idle.changed

    history = await control.history()
    assert [change.state for change in history] == [
        TradingState.ACTIVE,
        TradingState.REDUCING,
        TradingState.HALTED,
    ]
    assert [change.version for change in history] == [3, 2, 1]


async def test_resume_cannot_target_halted(clock: ManualClock) -> None:
    with pytest.raises(ValueError, match="halt instead"):
        await _control(MemoryBackend(), clock).resume("a", "b", to=TradingState.HALTED)


class _RacingBackend(MemoryBackend):
    """A store where another writer gets in first, once."""

    def __init__(self) -> None:
        super().__init__()
        self.raced = False

    def write(self, change: StateChange, *, expected_version: int) -> None:
        if not self.raced:
            self.raced = True
            rival = StateChange(1, TradingState.REDUCING, "risk:daily_loss", "limit", "", 1.0)
            super().write(rival, expected_version=0)
        super().write(change, expected_version=expected_version)


async def test_a_conflicting_writer_is_read_and_the_decision_taken_again(
    clock: ManualClock,
) -> None:
    backend = _RacingBackend()
    outcome = await _control(backend, clock).halt("alice", "emergency")
    assert outcome.current.version == 2
    assert outcome.previous.state is TradingState.REDUCING
    assert [c.actor for c in backend.history()] == ["alice", "risk:daily_loss"]


async def test_an_unopenable_state_file_is_unavailable_and_nothing_is_kept(
    tmp_path: Path, clock: ManualClock
) -> None:
    path = tmp_path / "state.db"
    path.mkdir()  # a directory where the file should be
    control = _control(SQLiteBackend(path), clock)
    with pytest.raises(ControlUnavailableError, match="unavailable"):
        await control.halt("alice", "emergency")
    with pytest.raises(ControlUnavailableError):
        await control.current()
    path.rmdir()
    # The refused halt was not stored later behind the operator's back.
    assert (await control.current()).version == 0
    control.close()


@pytest.mark.redis
async def test_the_redis_back_end_reaches_a_bot_switch(
    shared_redis_prefix: str, clock: ManualClock
) -> None:
    control = _control(RedisBackend(SHARED_REDIS_URL, prefix=shared_redis_prefix), clock)
    bot_backend = RedisBackend(SHARED_REDIS_URL, prefix=shared_redis_prefix)
    bot = KillSwitch(bot_backend)
    try:
        await eventually(lambda: bot.active)
        await control.halt("alice", "emergency")
        await eventually(lambda: bot.state is TradingState.HALTED)
        await control.resume("alice", "all clear")
        await eventually(lambda: bot.active)
    finally:
        bot.close()
        bot_backend.close()
        control.close()


@pytest.mark.redis
async def test_a_stopped_redis_is_unavailable_without_its_password(
    tmp_path: Path, clock: ManualClock
) -> None:
    secret = "kill-sw1tch-pa55"
    with RedisServer(tmp_path / "redis", password=secret) as server:
        url = server.url()
        control = TradingControl(
            RedisBackend(url, prefix="tw-test", socket_timeout_s=0.5),
            clock=clock,
            kind="redis",
            redact=Redactor(url).redact,
        )
        await control.halt("alice", "first")
        server.stop()
        with pytest.raises(ControlUnavailableError) as caught:
            await control.resume("alice", "all clear")
        assert "trading state (redis) unavailable" in caught.value.message
        assert secret not in caught.value.message
        control.close()
