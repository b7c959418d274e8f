"""The risk maths, pure: each limit judged on a view, and properties of the helpers."""

from __future__ import annotations

import math
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradewarden.guard.risk import (
    ConcentrationLimit,
    ConsecutiveLossesLimit,
    DailyLossLimit,
    DrawdownLimit,
    LowBalanceLimit,
    PortfolioSnapshot,
    RiskLimits,
    RiskView,
    TradeResult,
    concentration,
    consecutive_losses,
    drawdown,
    trading_day,
)
from tradewarden.guard.state import TradingState

NOW = 1_750_000_000.0
ZONES = [
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Asia/Tokyo",
    "Asia/Kolkata",
    "Australia/Sydney",
    "Pacific/Chatham",
]


def view(
    equity: float,
    *,
    start: float = 10_000.0,
    peak: float = 10_000.0,
    positions: dict[str, float] | None = None,
    balance: float | None = None,
    trades: tuple[TradeResult, ...] = (),
) -> RiskView:
    snapshot = PortfolioSnapshot(equity, positions or {}, balance)
    return RiskView(NOW, snapshot, start, peak, trades)


def test_daily_loss_trips_at_the_absolute_threshold() -> None:
    limit = DailyLossLimit(max_loss=500.0)
    assert limit.evaluate(view(9_501.0)) is None
    breach = limit.evaluate(view(9_500.0))
    assert breach is not None
    assert (breach.limit, breach.value, breach.threshold) == ("daily_loss", 500.0, 500.0)
    assert breach.action is TradingState.HALTED


def test_daily_loss_trips_at_a_percent_of_start_of_day_equity() -> None:
    limit = DailyLossLimit(max_loss_pct=5.0, action=TradingState.REDUCING)
    assert limit.evaluate(view(9_600.0)) is None
    breach = limit.evaluate(view(9_400.0))
    assert breach is not None
    assert breach.value == pytest.approx(6.0)
    assert breach.action is TradingState.REDUCING


def test_a_gain_is_never_a_daily_loss() -> None:
    assert DailyLossLimit(max_loss=1.0).evaluate(view(20_000.0)) is None


def test_drawdown_trips_on_percent_or_amount_from_the_peak() -> None:
    assert DrawdownLimit(max_drawdown_pct=10.0).evaluate(view(9_100.0, peak=10_000.0)) is None
    pct = DrawdownLimit(max_drawdown_pct=10.0).evaluate(view(9_000.0, peak=10_000.0))
    assert pct is not None
    assert pct.value == pytest.approx(10.0)
    amount = DrawdownLimit(max_drawdown=800.0).evaluate(view(9_100.0, peak=10_000.0))
    assert amount is not None
    assert amount.value == pytest.approx(900.0)


def test_concentration_names_the_heaviest_asset() -> None:
    limit = ConcentrationLimit(max_position_pct=25.0)
    assert limit.evaluate(view(10_000.0, positions={"SOL": 2_500.0})) is None
    breach = limit.evaluate(view(10_000.0, positions={"SOL": 1_000.0, "BONK": -3_000.0}))
    assert breach is not None
    assert breach.value == pytest.approx(30.0)
    assert "BONK" in breach.detail
    assert breach.action is TradingState.REDUCING


def test_low_balance_reads_the_free_balance_or_else_equity() -> None:
    limit = LowBalanceLimit(min_balance=100.0)
    assert limit.evaluate(view(10_000.0, balance=50.0)) is not None
    assert limit.evaluate(view(10_000.0)) is None
    assert limit.evaluate(view(99.0)) is not None


def test_consecutive_losses_need_the_run_inside_the_window() -> None:
    limit = ConsecutiveLossesLimit(max_losses=3, window_s=3_600.0)
    recent = tuple(TradeResult(NOW - 60 * i, -1.0) for i in (3, 2, 1))
    assert limit.evaluate(view(10_000.0, trades=recent)) is not None
    broken = (*recent[:2], TradeResult(NOW - 30, 5.0))
    assert limit.evaluate(view(10_000.0, trades=broken)) is None
    old = tuple(TradeResult(NOW - 7_200 + i, -1.0) for i in range(3))
    assert limit.evaluate(view(10_000.0, trades=old)) is None


def test_limits_refuse_nonsense_thresholds_loudly() -> None:
    with pytest.raises(ValueError, match="needs"):
        DailyLossLimit()
    with pytest.raises(ValueError, match="positive"):
        DrawdownLimit(max_drawdown_pct=-1.0)
    with pytest.raises(ValueError, match="REDUCING or HALTED"):
        ConcentrationLimit(max_position_pct=10.0, action=TradingState.ACTIVE)
    with pytest.raises(ValueError, match="time zone"):
        RiskLimits(timezone="Mars/Olympus_Mons")


def test_the_trading_day_follows_the_configured_zone() -> None:
    # 2026-03-01 23:30 UTC is already 2 March in Tokyo and still 1 March in New York.
    at = datetime(2026, 3, 1, 23, 30, tzinfo=ZoneInfo("UTC")).timestamp()
    assert trading_day(at, ZoneInfo("Asia/Tokyo")) == date(2026, 3, 2)
    assert trading_day(at, ZoneInfo("America/New_York")) == date(2026, 3, 1)


equities = st.floats(min_value=0.0, max_value=1e12, allow_nan=False)


@given(st.lists(equities, min_size=1, max_size=50))
def test_drawdown_is_never_negative_and_at_most_the_whole_peak(series: list[float]) -> None:
    peak = 0.0
    for equity in series:
        peak = max(peak, equity)
        amount, ratio = drawdown(equity, peak)
        assert amount >= 0.0
        assert 0.0 <= ratio <= 1.0
        assert (amount == 0.0) == (equity >= peak)


@given(
    st.sampled_from(ZONES),
    st.dates(min_value=date(2000, 1, 2), max_value=date(2090, 12, 31)),
    st.floats(min_value=0.001, max_value=3_600.0),
)
def test_the_day_turns_exactly_at_the_zones_midnight(name: str, day: date, offset: float) -> None:
    zone = ZoneInfo(name)
    midnight = datetime.combine(day, time(0), tzinfo=zone).timestamp()
    assert trading_day(midnight, zone) == day
    assert trading_day(midnight + offset, zone) == day
    assert trading_day(midnight - offset, zone) == day - timedelta(days=1)


positions = st.dictionaries(
    st.sampled_from(["SOL", "BTC", "ETH", "BONK"]),
    st.floats(min_value=-1e9, max_value=1e9, allow_nan=False),
)


@given(positions, st.floats(min_value=-1e9, max_value=1e9, allow_nan=False))
def test_concentration_is_never_negative_and_names_the_largest(
    held: dict[str, float], equity: float
) -> None:
    asset, ratio = concentration(held, equity)
    assert ratio >= 0.0
    if asset is not None:
        assert abs(held[asset]) == max(abs(value) for value in held.values())
        if equity <= 0:
            assert math.isinf(ratio)


pnls = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)


@given(st.lists(pnls, max_size=30))
def test_consecutive_losses_count_the_trailing_run_of_losses(results: list[float]) -> None:
    trades = [TradeResult(NOW - len(results) + i, pnl) for i, pnl in enumerate(results)]
    count = consecutive_losses(trades, NOW, window_s=1e9)
    expected = 0
    for pnl in reversed(results):
        if pnl >= 0:
            break
        expected += 1
    assert count == expected
