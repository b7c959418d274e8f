"""The risk engine: tracks the day and the peak, reports breaches, trips the kill switch."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from tradewarden.clock import ManualClock
from tradewarden.guard.risk import (
    ConcentrationLimit,
    ConsecutiveLossesLimit,
    DailyLossLimit,
    DrawdownLimit,
    OrderNotionalLimit,
    PortfolioSnapshot,
    RiskBreach,
    RiskEngine,
    RiskLimits,
    SubmitRateLimit,
    register_risk_metrics,
)
from tradewarden.guard.state import MemoryBackend, TradingState
from tradewarden.guard.trading import DenialReason, KillSwitch, OrderSide

ACTIVE, REDUCING, HALTED = TradingState.ACTIVE, TradingState.REDUCING, TradingState.HALTED
NEW_YORK = ZoneInfo("America/New_York")


def ny(year: int, month: int, day: int, hour: int, minute: int = 0) -> float:
    return datetime(year, month, day, hour, minute, tzinfo=NEW_YORK).timestamp()


def engine_with(
    limits: RiskLimits, clock: ManualClock | None = None
) -> tuple[RiskEngine, KillSwitch, MemoryBackend]:
    backend = MemoryBackend()
    switch = KillSwitch(backend, clock=clock)
    return RiskEngine(switch, limits, clock=clock), switch, backend


def test_a_daily_loss_halts_trading_latched_under_the_limits_name() -> None:
    engine, switch, backend = engine_with(RiskLimits(daily_loss=DailyLossLimit(max_loss=500.0)))
    assert engine.evaluate(PortfolioSnapshot(10_000.0)) == []
    [breach] = engine.evaluate(PortfolioSnapshot(9_400.0))
    assert (breach.limit, breach.value, breach.action) == ("daily_loss", 600.0, HALTED)
    assert switch.state is HALTED
    stored = backend.load()
    assert stored is not None
    assert (stored.actor, stored.state) == ("risk:daily_loss", HALTED)
    engine.evaluate(PortfolioSnapshot(10_000.0))  # recovered: still halted until resumed
    assert switch.state is HALTED


def test_a_breach_that_holds_is_reported_once_and_again_after_a_resume() -> None:
    engine, switch, _ = engine_with(RiskLimits(drawdown=DrawdownLimit(max_drawdown_pct=10.0)))
    engine.evaluate(PortfolioSnapshot(10_000.0))
    assert len(engine.evaluate(PortfolioSnapshot(8_000.0))) == 1
    assert engine.evaluate(PortfolioSnapshot(8_000.0)) == []
    switch.resume("operator:alice", "looked at it")
    assert len(engine.evaluate(PortfolioSnapshot(8_000.0))) == 1
    assert switch.state is HALTED
    assert engine.breach_counts["drawdown"] == 2


def test_reducing_does_not_loosen_a_halt() -> None:
    limits = RiskLimits(
        drawdown=DrawdownLimit(max_drawdown_pct=10.0),
        concentration=ConcentrationLimit(max_position_pct=50.0),
    )
    engine, switch, _ = engine_with(limits)
    engine.evaluate(PortfolioSnapshot(10_000.0))
    breaches = engine.evaluate(PortfolioSnapshot(8_000.0, {"SOL": 7_000.0}))
    assert {b.limit for b in breaches} == {"drawdown", "concentration"}
    assert switch.state is HALTED


def test_the_trading_day_restarts_at_midnight_in_the_configured_zone() -> None:
    clock = ManualClock(start=ny(2026, 6, 1, 23, 0))
    limits = RiskLimits(daily_loss=DailyLossLimit(max_loss_pct=5.0), timezone="America/New_York")
    engine, switch, _ = engine_with(limits, clock)
    engine.evaluate(PortfolioSnapshot(10_000.0))
    clock.advance(ny(2026, 6, 1, 23, 59) - clock.now())
    engine.evaluate(PortfolioSnapshot(9_600.0))  # -4 %: same day
    assert engine.daily_pnl == -400.0
    clock.advance(ny(2026, 6, 2, 0, 1) - clock.now())
    engine.evaluate(PortfolioSnapshot(9_600.0))  # a new day starts from here
    assert engine.daily_pnl == 0.0
    clock.advance(3_600)
    assert engine.evaluate(PortfolioSnapshot(9_200.0)) == []  # -4.2 % of the new day
    assert switch.state is ACTIVE
    assert engine.track.start_of_day_equity == 9_600.0


def test_consecutive_losing_trades_halt() -> None:
    clock = ManualClock()
    limits = RiskLimits(consecutive_losses=ConsecutiveLossesLimit(max_losses=3, window_s=600.0))
    engine, switch, _ = engine_with(limits, clock)
    for pnl in (-5.0, -2.0, 1.0, -1.0, -1.0):
        engine.record_trade(pnl)
        clock.advance(10)
    assert engine.evaluate(PortfolioSnapshot(1_000.0)) == []
    engine.record_trade(-3.0)
    [breach] = engine.evaluate(PortfolioSnapshot(1_000.0))
    assert breach.limit == "consecutive_losses"
    assert switch.state is HALTED


def test_an_oversized_order_is_refused_and_reported_without_a_state_change() -> None:
    seen: list[RiskBreach] = []
    limits = RiskLimits(order_notional=OrderNotionalLimit(max_notional=1_000.0))
    backend = MemoryBackend()
    switch = KillSwitch(backend)
    engine = RiskEngine(switch, limits, on_breach=seen.append)
    decision = engine.check_order(OrderSide.BUY, 5_000.0, 0.0)
    assert decision.reason is DenialReason.NOTIONAL_EXCEEDS_MAX
    assert [b.limit for b in seen] == ["order_notional"]
    assert switch.state is ACTIVE
    assert engine.check_order(OrderSide.BUY, 500.0, 0.0)


def test_a_runaway_bot_can_be_halted_by_the_submit_rate() -> None:
    clock = ManualClock()
    limits = RiskLimits(submit_rate=SubmitRateLimit(max_orders=5, window_s=1.0, action=HALTED))
    engine, switch, _ = engine_with(limits, clock)
    decisions = [engine.check_order(OrderSide.BUY, 1.0, 0.0) for _ in range(6)]
    assert [d.allowed for d in decisions] == [True] * 5 + [False]
    assert decisions[-1].reason is DenialReason.RATE_LIMIT_EXCEEDED
    assert switch.state is HALTED


def test_the_submit_window_slides() -> None:
    clock = ManualClock()
    limits = RiskLimits(submit_rate=SubmitRateLimit(max_orders=2, window_s=1.0))
    engine, _, _ = engine_with(limits, clock)
    assert engine.check_order(OrderSide.BUY, 1.0, 0.0)
    clock.advance(0.6)
    assert engine.check_order(OrderSide.BUY, 1.0, 0.0)
    assert not engine.check_order(OrderSide.BUY, 1.0, 0.0)
    clock.advance(0.4)  # the first one leaves the window
    assert engine.check_order(OrderSide.BUY, 1.0, 0.0)


@given(
    st.integers(min_value=1, max_value=10),
    st.floats(min_value=0.01, max_value=2.0),
    st.lists(st.floats(min_value=0.0, max_value=0.5), min_size=1, max_size=120),
)
def test_the_rate_limit_never_admits_more_than_n_in_any_window(
    max_orders: int, window_s: float, steps: list[float]
) -> None:
    clock = ManualClock()
    limits = RiskLimits(submit_rate=SubmitRateLimit(max_orders=max_orders, window_s=window_s))
    engine, _, _ = engine_with(limits, clock)
    admitted: list[float] = []
    for step in steps:
        clock.advance(step)
        if engine.check_order(OrderSide.BUY, 1.0, 0.0):
            admitted.append(clock.monotonic())
    for start in admitted:
        in_window = [at for at in admitted if 0 <= at - start < window_s]
        assert len(in_window) <= max_orders


def test_the_metrics_read_the_engine_at_scrape_time() -> None:
    registry = CollectorRegistry()
    engine, _, _ = engine_with(
        RiskLimits(
            daily_loss=DailyLossLimit(max_loss=10_000.0),
            drawdown=DrawdownLimit(max_drawdown_pct=10.0),
        )
    )
    register_risk_metrics(engine, registry)
    assert registry.get_sample_value("risk_daily_pnl") is None
    assert registry.get_sample_value("risk_limit_breaches_total", {"limit": "drawdown"}) == 0
    engine.evaluate(PortfolioSnapshot(10_000.0))
    engine.evaluate(PortfolioSnapshot(8_500.0))
    assert registry.get_sample_value("risk_daily_pnl") == -1_500.0
    assert registry.get_sample_value("risk_drawdown_ratio") == 0.15
    assert registry.get_sample_value("risk_limit_breaches_total", {"limit": "drawdown"}) == 1
    assert registry.get_sample_value("risk_limit_breaches_total", {"limit": "daily_loss"}) == 0
