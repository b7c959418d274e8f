"""Trading state and the latched kill switch: ACTIVE, REDUCING (only orders that reduce
exposure) and HALTED (no new orders; cancels allowed).

``check_order`` is the pure decision; ``KillSwitch`` keeps the state a back end stores
(``tradewarden.guard.state``) and changes it only by writing there first.
"""

from tradewarden.guard.state import StateChange, TradingState
from tradewarden.guard.trading._killswitch import KillSwitch, StateListener, UnreadablePolicy
from tradewarden.guard.trading._metrics import TradingStateCollector, register_trading_metrics
from tradewarden.guard.trading._orders import (
    ALLOWED,
    DenialReason,
    OrderDecision,
    OrderSide,
    check_order,
    reduces_exposure,
)

__all__ = [
    "ALLOWED",
    "DenialReason",
    "KillSwitch",
    "OrderDecision",
    "OrderSide",
    "StateChange",
    "StateListener",
    "TradingState",
    "TradingStateCollector",
    "UnreadablePolicy",
    "check_order",
    "reduces_exposure",
    "register_trading_metrics",
]
