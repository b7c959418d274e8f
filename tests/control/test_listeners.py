"""The control services' listeners (what the series follow): told of every written change
only, and a failing listener never turns a stored action into an error."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from guard.state._fixtures import SHARED_REDIS_URL
from tradewarden.clock import ManualClock
from tradewarden.control import BreakerControl, BreakerView, StateOutcome, TradingControl
from tradewarden.guard.state import MemoryBackend, TradingState
from tradewarden.probes import Beat, HeartbeatBoard, PingKind


async def test_trading_listeners_hear_written_changes_only(
    clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    control = TradingControl(MemoryBackend(), clock=clock, kind="memory")
    heard: list[StateOutcome] = []

    def broken(outcome: StateOutcome) -> None:
        raise RuntimeError("listener bug")

    control.add_listener(broken)
    control.add_listener(heard.append)
    with caplog.at_level(logging.ERROR, logger="tradewarden.control"):
        halted = await control.halt("ops", "drill")
    assert halted.changed
    assert "trading state listener failed" in caplog.text
    await control.halt("ops", "again")  # already HALTED: nothing written, nothing heard
    await control.resume("ops", "over", to=TradingState.REDUCING)
    await control.reduce("ops", "still")  # already REDUCING
    assert [(o.previous.state, o.current.state) for o in heard] == [
        (TradingState.ACTIVE, TradingState.HALTED),
        (TradingState.HALTED, TradingState.REDUCING),
    ]
    control.close()


async def test_heartbeat_listeners_hear_every_counted_ping(
    clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    board = HeartbeatBoard(None, clock)
    heard: list[tuple[str, PingKind, Beat]] = []

    def broken(name: str, kind: PingKind, beat: Beat) -> None:
        raise RuntimeError("listener bug")

    board.add_listener(broken)
    board.add_listener(lambda name, kind, beat: heard.append((name, kind, beat)))
    with caplog.at_level(logging.ERROR, logger="tradewarden.probes"):
        beat = await board.ping("nightly", "start")
    assert "heartbeat ping listener failed" in caplog.text
    clock.advance(3)
    done = await board.ping("nightly", "success")
    assert heard == [("nightly", "start", beat), ("nightly", "success", done)]
    assert done.last_duration_s == 3


@pytest.fixture
def breakers(shared_redis_prefix: str) -> Iterator[BreakerControl]:
    prefix = f"{shared_redis_prefix}:cb:"
    control = BreakerControl(SHARED_REDIS_URL, prefix=prefix, channel=f"{prefix}events")
    yield control
    control.close()


@pytest.mark.redis
async def test_breaker_listeners_hear_the_state_after_an_action(
    breakers: BreakerControl,
) -> None:
    heard: list[BreakerView] = []
    breakers.add_listener(heard.append)
    await breakers.act("jupiter", "open")
    await breakers.act("jupiter", "close")
    assert [(view.name, view.state) for view in heard] == [
        ("jupiter", "FORCED_OPEN"),
        ("jupiter", "CLOSED"),
    ]
    assert heard[1].version > heard[0].version
