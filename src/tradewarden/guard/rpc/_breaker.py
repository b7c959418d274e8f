"""What the pool needs from a circuit breaker, and a small one to use until the guard's lands.

The guard's own breaker (``tradewarden.guard.breaker``, written alongside) has sliding
windows, shared Redis state and listeners; the pool needs four things from it, so it asks
for a ``BreakerPort`` and takes a factory (one breaker per provider name). Any breaker
with these methods plugs in, through a small adapter if its names differ.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from tradewarden.clock import Clock

__all__ = ["BreakerFactory", "BreakerPort", "LocalBreaker"]

CLOSED, OPEN, HALF_OPEN = "CLOSED", "OPEN", "HALF_OPEN"


class BreakerPort(Protocol):
    """A circuit breaker as the pool uses it."""

    @property
    def state(self) -> str:
        """Return the state's name: CLOSED, OPEN, HALF_OPEN (or an operator's FORCED_OPEN ...)."""
        ...

    def allow(self) -> bool:
        """Return whether a call may go ahead now (taking a half-open trial permit)."""
        ...

    def record_success(self) -> None:
        """Record that an allowed call succeeded."""
        ...

    def record_failure(self) -> None:
        """Record that an allowed call failed."""
        ...


BreakerFactory = Callable[[str], BreakerPort]


class LocalBreaker:
    """Consecutive-failure breaker, in memory: opens after ``failure_threshold`` failures in a
    row, lets one trial through after ``open_s``, closes after ``success_threshold`` good
    trials (the seeds' defaults 5, 30 s, 2)."""

    def __init__(
        self,
        name: str,
        *,
        clock: Clock,
        failure_threshold: int = 5,
        success_threshold: int = 2,
        open_s: float = 30.0,
    ) -> None:
        self.name = name
        self._clock = clock
        self._failure_threshold = failure_threshold
        self._success_threshold = success_threshold
        self._open_s = open_s
        self._state = CLOSED
        self._failures = 0
        self._successes = 0
        self._opened_at = 0.0
        self._trial_in_flight = False

    def __repr__(self) -> str:
        return f"LocalBreaker({self.name!r}, state={self.state})"

    @property
    def state(self) -> str:
        """Return CLOSED, OPEN or HALF_OPEN (an open breaker whose wait is over is HALF_OPEN)."""
        if self._state == OPEN and self._clock.monotonic() - self._opened_at >= self._open_s:
            return HALF_OPEN
        return self._state

    def allow(self) -> bool:
        """Return whether a call may go ahead; half-open admits one trial at a time."""
        state = self.state
        if state == CLOSED:
            return True
        if state == OPEN or self._trial_in_flight:
            return False
        self._state = HALF_OPEN
        self._trial_in_flight = True
        return True

    def record_success(self) -> None:
        """Count a success; enough of them in half-open close the breaker."""
        if self._state == HALF_OPEN:
            self._trial_in_flight = False
            self._successes += 1
            if self._successes >= self._success_threshold:
                self._state, self._failures, self._successes = CLOSED, 0, 0
        else:
            self._failures = 0

    def record_failure(self) -> None:
        """Count a failure; the threshold in a row (or any in half-open) opens the breaker."""
        self._failures += 1
        if self._state == HALF_OPEN or self._failures >= self._failure_threshold:
            self._state = OPEN
            self._opened_at = self._clock.monotonic()
            self._trial_in_flight = False
            self._successes = 0
