"""The risk track survives a restart: the same day keeps its budget and the peak stands."""

from __future__ import annotations

import logging
import sqlite3
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from guard.state._fixtures import SHARED_REDIS_URL
from tradewarden.clock import ManualClock
from tradewarden.guard.risk import (
    DailyLossLimit,
    DrawdownLimit,
    PortfolioSnapshot,
    RedisTrackStore,
    RiskEngine,
    RiskLimits,
    RiskTrack,
    SQLiteTrackStore,
)
from tradewarden.guard.state import MemoryBackend, TradingState
from tradewarden.guard.trading import KillSwitch

LIMITS = RiskLimits(
    daily_loss=DailyLossLimit(max_loss_pct=5.0), drawdown=DrawdownLimit(max_drawdown_pct=20.0)
)


class CountingStore:
    def __init__(self) -> None:
        self.saved: list[RiskTrack] = []

    def load(self) -> RiskTrack | None:
        return self.saved[-1] if self.saved else None

    def save(self, track: RiskTrack) -> None:
        self.saved.append(track)


def test_a_restarted_bot_keeps_the_days_loss_budget(tmp_path: Path) -> None:
    clock = ManualClock()
    store = SQLiteTrackStore(tmp_path / "state.db", name="bot-1")
    first = RiskEngine(KillSwitch(MemoryBackend()), LIMITS, clock=clock, track_store=store)
    first.evaluate(PortfolioSnapshot(10_000.0))
    clock.advance(60)
    assert first.evaluate(PortfolioSnapshot(9_700.0)) == []  # -3 %
    clock.advance(60)
    switch = KillSwitch(MemoryBackend())
    restarted = RiskEngine(switch, LIMITS, clock=clock, track_store=store)
    [breach] = restarted.evaluate(PortfolioSnapshot(9_400.0))  # -6 % of the same day
    assert breach.limit == "daily_loss"
    assert switch.state is TradingState.HALTED
    assert restarted.track.peak_equity == 10_000.0


def test_saves_are_at_most_one_per_interval_except_a_new_day() -> None:
    clock = ManualClock(start=1_750_000_000.0)
    store = CountingStore()
    engine = RiskEngine(
        KillSwitch(MemoryBackend()), LIMITS, clock=clock, track_store=store, save_interval_s=10
    )
    for step in range(20):  # a new peak every second
        engine.evaluate(PortfolioSnapshot(10_000.0 + step))
        clock.advance(1)
    assert len(store.saved) == 2
    clock.advance(86_400)
    engine.evaluate(PortfolioSnapshot(9_000.0))
    assert len(store.saved) == 3
    assert store.saved[-1].start_of_day_equity == 9_000.0


def test_an_unreadable_track_starts_afresh_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "state.db"
    SQLiteTrackStore(path).save(RiskTrack(date(2026, 1, 1), 1.0, 2.0))
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE risk_tracks SET track = '{broken'")
    with caplog.at_level(logging.WARNING, logger="tradewarden.guard.risk"):
        engine = RiskEngine(KillSwitch(MemoryBackend()), LIMITS, track_store=SQLiteTrackStore(path))
    assert engine.track == RiskTrack()
    assert "unreadable" in caplog.text


@pytest.mark.redis
def test_the_track_round_trips_through_redis(shared_redis_prefix: str) -> None:
    store = RedisTrackStore(SHARED_REDIS_URL, prefix=shared_redis_prefix, name="bot-1")
    assert store.load() is None
    track = RiskTrack(date(2026, 6, 1), 10_000.0, 12_500.0)
    store.save(track)
    assert store.load() == track
    store.close()


@given(
    st.none() | st.dates(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.floats(allow_nan=False, allow_infinity=False),
)
def test_a_track_round_trips_through_json(day: date | None, start: float, peak: float) -> None:
    track = RiskTrack(day, start, peak)
    assert RiskTrack.from_json(track.to_json()) == track
