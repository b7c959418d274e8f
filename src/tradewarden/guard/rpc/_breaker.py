"""What the pool needs from a circuit breaker: a port, a small local one, and an adapter.

The pool asks four things of a breaker: its state, whether a call may go ahead (allow),
and that call's outcome (record success / record failure). ``allow()`` returns a permit
that records the outcome, rather than a bool, so concurrent calls through one breaker
cannot mix their outcomes up (a half-open trial must be the one that closes or re-opens).

``guard_breakers()`` plugs in the guard's own ``CircuitBreaker`` (sliding windows, shared
Redis state, listeners, metrics) through its public ``guarded()`` form; ``LocalBreaker``
is the small consecutive-failure breaker the pool uses when given none.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Protocol

from tradewarden.clock import Clock
from tradewarden.guard.breaker import BreakerConfig, CircuitBreaker, CircuitOpenError

__all__ = [
    "BreakerFactory",
    "BreakerPort",
    "CircuitBreakerPort",
    "LocalBreaker",
    "Permit",
    "guard_breakers",
]

CLOSED, OPEN, HALF_OPEN = "CLOSED", "OPEN", "HALF_OPEN"


class Permit(Protocol):
    """One admitted call; record its outcome once."""

    def record_success(self) -> None:
        """Record that the call succeeded."""
        ...

    def record_failure(self) -> None:
        """Record that the call failed."""
        ...

    def release(self) -> None:
        """Give the admission back with no outcome (the call was cancelled)."""
        ...


class BreakerPort(Protocol):
    """A circuit breaker as the pool uses it."""

    @property
    def state_name(self) -> str:
        """Return the state's name: CLOSED, OPEN, HALF_OPEN (or FORCED_OPEN, DISABLED)."""
        ...

    def allow(self) -> Permit | None:
        """Return a permit if a call may go ahead now; None when the breaker rejects it."""
        ...


BreakerFactory = Callable[[str], BreakerPort]


class _EndpointFailureError(Exception):
    """The pool's verdict that a call failed, handed to the guard's breaker."""


class _GuardedPermit:
    __slots__ = ("_block",)

    def __init__(self, block: Any) -> None:
        self._block = block

    def record_success(self) -> None:
        self._block.__exit__(None, None, None)

    def record_failure(self) -> None:
        error = _EndpointFailureError("endpoint failed")
        self._block.__exit__(type(error), error, None)

    def release(self) -> None:
        # The breaker counts no cancellation: its slot is freed, nothing is decided.
        cancelled = asyncio.CancelledError()
        self._block.__exit__(type(cancelled), cancelled, None)


class CircuitBreakerPort:
    """The guard's ``CircuitBreaker`` as a ``BreakerPort``."""

    def __init__(self, breaker: CircuitBreaker) -> None:
        self.breaker = breaker

    def __repr__(self) -> str:
        return f"CircuitBreakerPort({self.breaker!r})"

    @property
    def state_name(self) -> str:
        """Return the breaker's state name."""
        return self.breaker.state.value

    def allow(self) -> Permit | None:
        """Enter the breaker's guarded block; None when it rejects."""
        block = self.breaker.guarded()
        try:
            block.__enter__()
        except CircuitOpenError:
            return None
        return _GuardedPermit(block)


def guard_breakers(
    config: BreakerConfig | None = None, *, clock: Clock | None = None, prefix: str = "rpc_"
) -> BreakerFactory:
    """Return a factory of the guard's breakers, named ``<prefix><provider>``."""

    def make(name: str) -> BreakerPort:
        return CircuitBreakerPort(CircuitBreaker(f"{prefix}{name}", config, clock=clock))

    return make


class _LocalPermit:
    __slots__ = ("_breaker", "_done", "_trial")

    def __init__(self, breaker: LocalBreaker, *, trial: bool) -> None:
        self._breaker = breaker
        self._trial = trial
        self._done = False

    def record_success(self) -> None:
        if not self._done:
            self._done = True
            self._breaker._record(ok=True, trial=self._trial)

    def record_failure(self) -> None:
        if not self._done:
            self._done = True
            self._breaker._record(ok=False, trial=self._trial)

    def release(self) -> None:
        if not self._done:
            self._done = True
            if self._trial:
                self._breaker._trial_in_flight = False


class LocalBreaker:
    """Consecutive-failure breaker, in memory: opens after ``failure_threshold`` failures in
    a row, admits one trial at a time after ``open_s``, closes after ``success_threshold``
    good trials (the seeds' defaults: 5, 30 s, 2)."""

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
        return f"LocalBreaker({self.name!r}, state={self.state_name})"

    @property
    def state_name(self) -> str:
        """Return CLOSED, OPEN or HALF_OPEN (an open breaker whose wait is over is HALF_OPEN)."""
        if self._state == OPEN and self._clock.monotonic() - self._opened_at >= self._open_s:
            return HALF_OPEN
        return self._state

    def allow(self) -> Permit | None:
        """Return a permit; half-open admits one trial at a time."""
        state = self.state_name
        if state == CLOSED:
            return _LocalPermit(self, trial=False)
        if state == OPEN or self._trial_in_flight:
            return None
        self._state = HALF_OPEN
        self._trial_in_flight = True
        return _LocalPermit(self, trial=True)

    def _record(self, *, ok: bool, trial: bool) -> None:
        if trial:
            self._trial_in_flight = False
        if self._state == HALF_OPEN and not trial:
            return  # admitted before the breaker opened: its outcome is stale
        if ok:
            if self._state == HALF_OPEN:
                self._successes += 1
                if self._successes >= self._success_threshold:
                    self._state, self._failures, self._successes = CLOSED, 0, 0
            elif self._state == CLOSED:
                self._failures = 0
            return
        if self._state == OPEN:
            return
        self._failures += 1
        if self._state == HALF_OPEN or self._failures >= self._failure_threshold:
            self._state = OPEN
            self._opened_at = self._clock.monotonic()
            self._successes = 0
