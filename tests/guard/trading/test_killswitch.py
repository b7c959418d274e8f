"""The kill switch: latched, stored before it takes effect, failing closed when blind."""

from __future__ import annotations

import logging
import threading

import pytest
from prometheus_client import CollectorRegistry

from tradewarden.clock import ManualClock
from tradewarden.guard.state import (
    INITIAL_STATE,
    MemoryBackend,
    StateChange,
    StateUnavailableError,
    TradingState,
)
from tradewarden.guard.trading import (
    DenialReason,
    KillSwitch,
    OrderSide,
    UnreadablePolicy,
    register_trading_metrics,
)

ACTIVE, REDUCING, HALTED = TradingState.ACTIVE, TradingState.REDUCING, TradingState.HALTED


class SpyBackend(MemoryBackend):
    """Remember what the switch in question showed while each write was being stored."""

    def __init__(self) -> None:
        super().__init__()
        self.switch: KillSwitch | None = None
        self.state_during_write: list[TradingState] = []

    def write(self, change: StateChange, *, expected_version: int) -> None:
        if self.switch is not None:
            self.state_during_write.append(self.switch.state)
        super().write(change, expected_version=expected_version)


def test_a_fresh_store_means_trading_is_active() -> None:
    switch = KillSwitch(MemoryBackend())
    assert switch.state is ACTIVE
    assert switch.active
    assert switch.current.version == 0
    assert not switch.unreadable


def test_a_halt_is_stored_before_it_takes_effect() -> None:
    backend = SpyBackend()
    switch = KillSwitch(backend)
    backend.switch = switch
    switch.halt("operator:alice", "drill")
    assert backend.state_during_write == [ACTIVE]
    assert switch.state is HALTED
    assert not switch.active


def test_a_change_records_actor_reason_message_time_and_a_new_version() -> None:
    clock = ManualClock(start=1_750_000_000.0)
    backend = MemoryBackend()
    switch = KillSwitch(backend, clock=clock)
    stored = switch.halt("operator:alice", "losses", "stop everything")
    assert stored == StateChange(1, HALTED, "operator:alice", "losses", "stop everything", 1.75e9)
    clock.advance(60)
    resumed = switch.resume("operator:bob", "checked")
    assert (resumed.version, resumed.state, resumed.changed_at) == (2, ACTIVE, 1.75e9 + 60)
    assert [c.version for c in backend.history()] == [2, 1]


def test_a_halt_is_latched_for_every_switch_on_the_store() -> None:
    backend = MemoryBackend()
    KillSwitch(backend).halt("operator:alice", "drill")
    later = KillSwitch(backend)
    assert later.state is HALTED


def test_reduce_never_loosens_a_halt_and_halt_twice_stores_once() -> None:
    backend = MemoryBackend()
    switch = KillSwitch(backend)
    first = switch.halt("risk:daily_loss", "limit")
    assert switch.halt("operator:alice", "again") == first
    assert switch.reduce("risk:concentration", "limit") == first
    assert switch.state is HALTED
    assert len(backend.history()) == 1


def test_only_resume_brings_back_active_and_it_cannot_tighten() -> None:
    switch = KillSwitch(MemoryBackend())
    switch.halt("operator:alice", "drill")
    switch.resume("operator:alice", "partly", to=REDUCING)
    assert switch.state is REDUCING
    with pytest.raises(ValueError, match="cannot tighten"):
        switch.resume("operator:alice", "oops", to=HALTED)
    switch.resume("operator:alice", "all clear")
    assert switch.active


def test_other_switches_on_the_store_follow_a_change() -> None:
    backend = MemoryBackend()
    bots = [KillSwitch(backend) for _ in range(3)]
    KillSwitch(backend).halt("operator:alice", "drill")
    assert [bot.state for bot in bots] == [HALTED] * 3


def test_a_stale_switch_decides_again_on_a_version_conflict() -> None:
    backend = MemoryBackend()
    stale = KillSwitch(backend, watch=False)
    other = KillSwitch(backend)
    other.halt("operator:alice", "drill")
    assert stale.state is ACTIVE  # no watch: it has not heard
    assert stale.halt("risk:drawdown", "limit").version == 1  # already halted: no write
    other.resume("operator:alice", "done")
    assert stale.reduce("risk:concentration", "limit").version == 3
    assert len(backend.history()) == 3


def test_the_orders_follow_the_state() -> None:
    switch = KillSwitch(MemoryBackend())
    assert switch.check_order(OrderSide.BUY, 10.0, 0.0)
    switch.reduce("operator:alice", "wind down")
    assert switch.check_order(OrderSide.BUY, 10.0, 0.0).reason is DenialReason.TRADING_REDUCING
    assert switch.check_order(OrderSide.SELL, 10.0, 50.0)


def test_an_unreadable_store_at_start_fails_closed_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    backend = MemoryBackend()
    backend.fail(StateUnavailableError("disk on fire"))
    registry = CollectorRegistry()
    with caplog.at_level(logging.WARNING, logger="tradewarden.guard.trading"):
        switch = KillSwitch(backend)
    register_trading_metrics(switch, registry)
    assert switch.state is HALTED
    assert switch.unreadable
    assert "disk on fire" in caplog.text
    assert registry.get_sample_value("trading_state_unreadable") == 1
    assert registry.get_sample_value("trading_state") == 2


def test_fail_open_trades_while_nothing_was_ever_read() -> None:
    backend = MemoryBackend()
    backend.fail()
    switch = KillSwitch(backend, on_unreadable=UnreadablePolicy.FAIL_OPEN)
    assert switch.state is ACTIVE
    assert switch.unreadable


def test_losing_the_store_halts_unless_told_to_keep_the_last_state() -> None:
    backend = MemoryBackend()
    closed = KillSwitch(backend)
    keeping = KillSwitch(backend, on_unreadable=UnreadablePolicy.KEEP_LAST_KNOWN)
    backend.fail()
    assert closed.state is HALTED
    assert keeping.state is ACTIVE
    assert closed.unreadable
    assert keeping.unreadable
    backend.recover()
    assert closed.state is ACTIVE
    assert not closed.unreadable


def test_fail_open_never_undoes_a_halt_it_has_read() -> None:
    backend = MemoryBackend()
    switch = KillSwitch(backend, on_unreadable=UnreadablePolicy.FAIL_OPEN)
    switch.halt("operator:alice", "drill")
    backend.fail()
    assert switch.state is HALTED


def test_a_halt_that_cannot_be_stored_halts_here_and_is_written_on_recovery() -> None:
    backend = MemoryBackend()
    switch = KillSwitch(backend, on_unreadable=UnreadablePolicy.KEEP_LAST_KNOWN)
    backend.fail()
    with pytest.raises(StateUnavailableError):
        switch.halt("operator:alice", "during the outage")
    assert switch.state is HALTED
    backend.recover()
    assert switch.state is HALTED
    stored = backend.load()
    assert stored is not None
    assert (stored.state, stored.actor) == (HALTED, "operator:alice")


def test_a_resume_that_cannot_be_stored_keeps_an_unstored_halt() -> None:
    backend = MemoryBackend()
    switch = KillSwitch(backend, on_unreadable=UnreadablePolicy.KEEP_LAST_KNOWN)
    backend.fail()
    with pytest.raises(StateUnavailableError):
        switch.halt("risk:drawdown", "limit")
    with pytest.raises(StateUnavailableError):
        switch.resume("operator:alice", "blind")
    assert switch.state is HALTED


def test_a_resume_clears_a_halt_whose_write_failed_once() -> None:
    class FailingOnce(MemoryBackend):
        failed = False

        def write(self, change: StateChange, *, expected_version: int) -> None:
            if not self.failed:
                self.failed = True
                raise StateUnavailableError("one lost write")
            super().write(change, expected_version=expected_version)

    switch = KillSwitch(FailingOnce())
    with pytest.raises(StateUnavailableError):
        switch.halt("operator:alice", "drill")
    assert switch.state is HALTED  # applied here though not stored
    switch.resume("operator:alice", "never mind")
    assert switch.state is ACTIVE


def test_a_resume_needs_a_readable_store() -> None:
    backend = MemoryBackend()
    switch = KillSwitch(backend)
    switch.halt("operator:alice", "drill")
    backend.fail()
    with pytest.raises(StateUnavailableError):
        switch.resume("operator:alice", "blind")
    assert switch.state is HALTED


def test_listeners_hear_every_change_of_the_effective_state() -> None:
    backend = MemoryBackend()
    switch = KillSwitch(backend)
    heard: list[tuple[TradingState, int]] = []
    switch.add_listener(lambda state, change: heard.append((state, change.version)))
    switch.halt("operator:alice", "drill")
    backend.fail()
    backend.recover()
    switch.resume("operator:alice", "done")
    assert heard == [(HALTED, 1), (ACTIVE, 2)]


def test_a_failing_listener_does_not_stop_the_switch() -> None:
    switch = KillSwitch(MemoryBackend())

    def broken(state: TradingState, change: StateChange) -> None:
        raise RuntimeError("bot bug")

    switch.add_listener(broken)
    switch.halt("operator:alice", "drill")
    assert switch.state is HALTED


def test_the_metrics_read_the_state_at_scrape_time() -> None:
    registry = CollectorRegistry()
    switch = KillSwitch(MemoryBackend())
    register_trading_metrics(switch, registry)
    assert registry.get_sample_value("trading_state") == 0
    switch.reduce("operator:alice", "wind down")
    assert registry.get_sample_value("trading_state") == 1
    assert registry.get_sample_value("trading_state_version") == 1
    assert registry.get_sample_value("trading_state_unreadable") == 0


def test_a_switch_without_a_watch_catches_up_on_refresh() -> None:
    backend = MemoryBackend()
    polled = KillSwitch(backend, watch=False)
    KillSwitch(backend).halt("operator:alice", "drill")
    assert polled.state is ACTIVE
    assert polled.refresh().version == 1
    assert polled.state is HALTED


def test_a_store_that_comes_back_older_does_not_undo_a_known_halt(
    caplog: pytest.LogCaptureFixture,
) -> None:
    backend = MemoryBackend()
    switch = KillSwitch(backend)
    switch.halt("operator:alice", "drill")
    switch.state_unavailable(StateUnavailableError("lost"))
    with caplog.at_level(logging.WARNING, logger="tradewarden.guard.trading"):
        switch.state_changed(StateChange(0, ACTIVE, "", "", "", 0.0))  # a restored old copy
    assert switch.state is HALTED
    assert not switch.unreadable
    assert "went back" in caplog.text


def test_a_resume_while_an_unstored_halt_is_being_stored_is_not_lost() -> None:
    class Gated(MemoryBackend):
        """Lose the first write; hold the next halt's write until released."""

        def __init__(self) -> None:
            super().__init__()
            self.lost_one = False
            self.storing_halt = threading.Event()
            self.release = threading.Event()

        def write(self, change: StateChange, *, expected_version: int) -> None:
            if not self.lost_one:
                self.lost_one = True
                raise StateUnavailableError("one lost write")
            if change.state is HALTED and not self.storing_halt.is_set():
                self.storing_halt.set()
                assert self.release.wait(5)
            super().write(change, expected_version=expected_version)

    backend = Gated()
    switch = KillSwitch(backend, watch=False)
    with pytest.raises(StateUnavailableError):
        switch.halt("risk:drawdown", "limit")
    # The back end answers again: its watch delivers the state and the switch stores the halt.
    recovery = threading.Thread(target=switch.state_changed, args=(INITIAL_STATE,))
    recovery.start()
    assert backend.storing_halt.wait(5)
    resume = threading.Thread(target=switch.resume, args=("operator:alice", "all clear"))
    resume.start()
    # Give the resume time to finish before the halt lands, as it could unserialised.
    resume.join(timeout=0.2)
    backend.release.set()
    recovery.join(timeout=5)
    resume.join(timeout=5)
    assert not recovery.is_alive()
    assert not resume.is_alive()
    stored = backend.load()
    assert stored is not None
    assert (stored.state, stored.actor) == (ACTIVE, "operator:alice")
    assert switch.state is ACTIVE
