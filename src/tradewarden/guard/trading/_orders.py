"""The order decision: pure, from the trading state, the order and the position."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from tradewarden.guard.state import TradingState

__all__ = [
    "ALLOWED",
    "DenialReason",
    "OrderDecision",
    "OrderSide",
    "check_order",
    "reduces_exposure",
]


class OrderSide(StrEnum):
    """Which way an order trades."""

    BUY = "buy"
    SELL = "sell"


class DenialReason(StrEnum):
    """Why an order is refused: a stable code for logs, metrics and the bot's own handling."""

    TRADING_HALTED = "TRADING_HALTED"
    TRADING_REDUCING = "TRADING_REDUCING"
    NOTIONAL_EXCEEDS_MAX = "NOTIONAL_EXCEEDS_MAX"
    RATE_LIMIT_EXCEEDED = "RATE_LIMIT_EXCEEDED"
    INVALID_ORDER = "INVALID_ORDER"


@dataclass(frozen=True, slots=True)
class OrderDecision:
    """Allow, or deny with a reason code and a human sentence."""

    allowed: bool
    reason: DenialReason | None = None
    detail: str = ""

    def __bool__(self) -> bool:
        """Return whether the order may go."""
        return self.allowed


ALLOWED = OrderDecision(allowed=True)


def reduces_exposure(side: OrderSide, notional: float, position: float) -> bool:
    """Return whether the order shrinks the position without flipping it past zero.

    ``position`` is the signed exposure in the order's quote currency (long > 0).
    """
    if side is OrderSide.SELL:
        return position > 0 and notional <= position
    return position < 0 and notional <= -position


def check_order(
    side: OrderSide,
    notional: float,
    position: float,
    *,
    state: TradingState,
    max_notional: float | None = None,
    submits_in_window: int = 0,
    max_submits: int | None = None,
) -> OrderDecision:
    """Decide whether a new order may be sent; cancels never need this check.

    ``notional`` is the order's size in the quote currency (positive); ``position`` the
    signed exposure before it. ``submits_in_window`` is the number of orders already sent
    within the rate window, ``max_submits`` the most it may hold. The first failing rule
    wins, in this order: invalid input, HALTED, REDUCING (the order does not reduce
    exposure), the notional cap, the submit rate.
    """
    if not (math.isfinite(notional) and notional > 0 and math.isfinite(position)):
        return OrderDecision(
            False, DenialReason.INVALID_ORDER, f"notional {notional!r}, position {position!r}"
        )
    if state is TradingState.HALTED:
        return OrderDecision(False, DenialReason.TRADING_HALTED, "trading is halted")
    if state is TradingState.REDUCING and not reduces_exposure(side, notional, position):
        return OrderDecision(
            False,
            DenialReason.TRADING_REDUCING,
            f"only orders that reduce exposure: {side} {notional:g} on position {position:g}",
        )
    if max_notional is not None and notional > max_notional:
        return OrderDecision(
            False,
            DenialReason.NOTIONAL_EXCEEDS_MAX,
            f"notional {notional:g} exceeds the maximum {max_notional:g}",
        )
    if max_submits is not None and submits_in_window >= max_submits:
        return OrderDecision(
            False,
            DenialReason.RATE_LIMIT_EXCEEDED,
            f"{submits_in_window} orders already in the window (max {max_submits})",
        )
    return ALLOWED
