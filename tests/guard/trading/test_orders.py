"""check_order is a pure decision: the state, the order and the position, nothing else."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from tradewarden.guard.trading import (
    DenialReason,
    OrderSide,
    TradingState,
    check_order,
    reduces_exposure,
)

sides = st.sampled_from(list(OrderSide))
notionals = st.floats(min_value=1e-6, max_value=1e9, allow_nan=False)
positions = st.floats(min_value=-1e9, max_value=1e9, allow_nan=False)


def test_an_active_state_allows_an_order_that_adds_exposure() -> None:
    decision = check_order(OrderSide.BUY, 100.0, 0.0, state=TradingState.ACTIVE)
    assert decision.allowed
    assert decision.reason is None
    assert bool(decision)


def test_a_halted_state_denies_even_a_reducing_order() -> None:
    decision = check_order(OrderSide.SELL, 10.0, 500.0, state=TradingState.HALTED)
    assert not decision
    assert decision.reason is DenialReason.TRADING_HALTED


def test_reducing_allows_a_sell_against_a_long_and_denies_a_buy() -> None:
    assert check_order(OrderSide.SELL, 100.0, 500.0, state=TradingState.REDUCING)
    denied = check_order(OrderSide.BUY, 100.0, 500.0, state=TradingState.REDUCING)
    assert denied.reason is DenialReason.TRADING_REDUCING


def test_reducing_denies_an_order_that_flips_the_position() -> None:
    denied = check_order(OrderSide.SELL, 600.0, 500.0, state=TradingState.REDUCING)
    assert denied.reason is DenialReason.TRADING_REDUCING


def test_an_order_over_the_notional_cap_is_denied() -> None:
    denied = check_order(
        OrderSide.BUY, 1_001.0, 0.0, state=TradingState.ACTIVE, max_notional=1_000.0
    )
    assert denied.reason is DenialReason.NOTIONAL_EXCEEDS_MAX
    assert check_order(OrderSide.BUY, 1_000.0, 0.0, state=TradingState.ACTIVE, max_notional=1e3)


def test_an_order_beyond_the_submit_budget_is_denied() -> None:
    active = TradingState.ACTIVE
    assert check_order(OrderSide.BUY, 1.0, 0.0, state=active, submits_in_window=99, max_submits=100)
    denied = check_order(
        OrderSide.BUY, 1.0, 0.0, state=active, submits_in_window=100, max_submits=100
    )
    assert denied.reason is DenialReason.RATE_LIMIT_EXCEEDED


def test_a_nonsense_order_is_invalid_whatever_the_state() -> None:
    for notional in (0.0, -5.0, math.nan, math.inf):
        decision = check_order(OrderSide.BUY, notional, 0.0, state=TradingState.ACTIVE)
        assert decision.reason is DenialReason.INVALID_ORDER


@given(sides, notionals, positions)
def test_halted_denies_every_order(side: OrderSide, notional: float, position: float) -> None:
    decision = check_order(side, notional, position, state=TradingState.HALTED)
    assert decision.reason is DenialReason.TRADING_HALTED


@given(sides, notionals, positions)
def test_reducing_admits_exactly_the_orders_that_shrink_exposure(
    side: OrderSide, notional: float, position: float
) -> None:
    decision = check_order(side, notional, position, state=TradingState.REDUCING)
    signed = notional if side is OrderSide.BUY else -notional
    shrinks = abs(position + signed) <= abs(position) and (position + signed) * position >= 0
    assert decision.allowed == (shrinks and position != 0)
    assert decision.allowed == reduces_exposure(side, notional, position)


@given(sides, notionals, positions)
def test_active_without_caps_allows_every_valid_order(
    side: OrderSide, notional: float, position: float
) -> None:
    assert check_order(side, notional, position, state=TradingState.ACTIVE).allowed
