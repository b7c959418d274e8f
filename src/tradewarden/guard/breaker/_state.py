"""The breaker's states and what each one means for a call."""

from __future__ import annotations

from enum import Enum

__all__ = ["BreakerState"]


class BreakerState(Enum):
    """A breaker's state; ``value`` is the name written to Redis and shown by the API."""

    CLOSED = "CLOSED"  # calls pass; failures are counted
    OPEN = "OPEN"  # calls are rejected until ``timeout_s`` has passed
    HALF_OPEN = "HALF_OPEN"  # a few trial calls decide between CLOSED and OPEN
    FORCED_OPEN = "FORCED_OPEN"  # an operator opened it: rejected until an operator acts
    DISABLED = "DISABLED"  # an operator switched it off: every call passes, nothing counted

    @property
    def gauge(self) -> float:
        """Return the value of ``circuit_breaker_state`` (the seeds' scale)."""
        return _GAUGE[self]

    @property
    def operator_set(self) -> bool:
        """Return whether only an operator action leaves this state."""
        return self in (BreakerState.FORCED_OPEN, BreakerState.DISABLED)


_GAUGE = {
    BreakerState.CLOSED: 0.0,
    BreakerState.HALF_OPEN: 0.5,
    BreakerState.OPEN: 1.0,
    BreakerState.FORCED_OPEN: 1.0,
    BreakerState.DISABLED: 0.0,
}
