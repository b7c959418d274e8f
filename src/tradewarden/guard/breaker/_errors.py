"""What a rejected call raises.

TradewardenError                 (tradewarden.errors)
└── CircuitOpenError             the breaker refused the call without running it
"""

from __future__ import annotations

from tradewarden.errors import TradewardenError

from ._state import BreakerState

__all__ = ["CircuitOpenError"]


class CircuitOpenError(TradewardenError):
    """The breaker rejected a call; ``remaining_s`` says when it will let a trial through.

    ``remaining_s`` is ``None`` when no timer runs: an operator forced the breaker open, or
    it is half-open and every trial slot is taken. Retrying later can help (not permanent).
    """

    permanent = False

    def __init__(self, name: str, state: BreakerState, remaining_s: float | None) -> None:
        when = "" if remaining_s is None else f"; next trial in {remaining_s:.3f} s"
        super().__init__(f"circuit breaker {name!r} is {state.value}{when}")
        self.name = name
        self.state = state
        self.remaining_s = remaining_s
