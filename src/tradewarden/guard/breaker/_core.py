"""The breaker's state machine: admission, outcomes and transitions, under one short lock.

Every section that takes the lock is a few int and dict operations; none spans a guarded
call, so concurrent calls are never serialised. The call forms (decorators, ``call``,
context managers) and the lock-free CLOSED path live in ``_breaker.py``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Protocol, cast

from tradewarden.clock import Clock, SystemClock

from ._config import BreakerConfig
from ._errors import CircuitOpenError
from ._state import BreakerState
from ._window import new_window

if TYPE_CHECKING:
    from ._breaker import CircuitBreaker

    Listener = Callable[[CircuitBreaker, BreakerState, BreakerState], None]

__all__ = ["BreakerCore", "BreakerStatus", "BreakerSync"]

logger = logging.getLogger("tradewarden.guard.breaker")
Transitions = list[tuple[BreakerState, BreakerState]]

# What _admit lets through.
_PASS: Final = 0  # DISABLED: run, record nothing
_COUNTED: Final = 1  # CLOSED with a window (or a context manager): record the outcome
_TRIAL: Final = 2  # HALF_OPEN trial: the outcome decides the state


class BreakerSync(Protocol):
    """Where a breaker reports what other processes must learn (the Redis sync).

    Called under the breaker's lock: implementations queue and return at once.
    """

    def on_failure(self, breaker: CircuitBreaker) -> None:
        """Report a failure counted while CLOSED (consecutive counting)."""

    def on_recovered(self, breaker: CircuitBreaker) -> None:
        """Report a success that reset a non-zero consecutive failure count."""

    def on_transition(
        self, breaker: CircuitBreaker, old: BreakerState, new: BreakerState, *, operator: bool
    ) -> None:
        """Report a local transition; ``operator`` for an action (it wins over any state)."""


@dataclass(frozen=True, slots=True)
class BreakerStatus:
    """A breaker as the API and the CLI show it; times are wall-clock epoch seconds."""

    name: str
    state: BreakerState
    failure_count: int
    last_failure_time: float | None
    opened_at: float | None
    remaining_s: float | None
    successes_total: int
    failures_total: int
    rejected_total: int


class BreakerCore:
    """The state, the counts and every rule of ``BreakerConfig``; no call forms."""

    __slots__ = (
        "__weakref__",
        "_counted_ok",
        "_epoch",
        "_failures",
        "_failures_total",
        "_fast",
        "_fast_window",
        "_inflight",
        "_last_failure",
        "_last_failure_wall",
        "_listeners",
        "_lock",
        "_mono",
        "_open_until",
        "_opened_at_wall",
        "_rejected",
        "_slow_s",
        "_state",
        "_successes",
        "_sync",
        "_transitions",
        "_trial_successes",
        "_window",
        "clock",
        "config",
        "name",
    )

    def __init__(
        self,
        name: str,
        config: BreakerConfig | None = None,
        *,
        clock: Clock | None = None,
        listeners: Iterable[Listener] = (),
    ) -> None:
        if not name:
            raise ValueError("name must not be empty")
        self.name = name
        self.config = config if config is not None else BreakerConfig()
        self.clock: Clock = clock if clock is not None else SystemClock()
        # The system clock's reading without its method call: the window path reads it twice.
        self._mono = time.monotonic if type(self.clock) is SystemClock else self.clock.monotonic
        self._listeners: list[Listener] = list(listeners)
        self._lock = threading.Lock()
        self._window = new_window(self.config)
        self._state = BreakerState.CLOSED
        self._fast = self._window is None  # CLOSED with consecutive counting
        self._fast_window = self._window is not None  # CLOSED with a window
        self._slow_s = self.config.slow_call_duration_s
        self._epoch = 0  # bumped by every transition: stale trials are not counted
        self._failures = 0  # consecutive failures while CLOSED
        self._last_failure = -float("inf")  # monotonic
        self._last_failure_wall: float | None = None
        self._opened_at_wall: float | None = None
        self._open_until = 0.0  # monotonic
        self._inflight = 0  # admitted HALF_OPEN trials still running
        self._trial_successes = 0
        self._counted_ok = 0  # successes recorded through the slow path
        self._successes = 0  # fast-path successes; read through successes_total
        self._failures_total = 0
        self._rejected = 0
        self._transitions: dict[tuple[BreakerState, BreakerState], int] = {}
        self._sync: BreakerSync | None = None

    def __repr__(self) -> str:
        return f"<CircuitBreaker {self.name!r} {self._state.value}>"

    # -- reading ----------------------------------------------------------------------------

    @property
    def state(self) -> BreakerState:
        """Return the state, moving OPEN to HALF_OPEN if its timeout has passed."""
        if self._state is BreakerState.OPEN:
            with self._lock:
                pending = self._maybe_half_open(self._mono())
            self._notify(pending)
        return self._state

    @property
    def successes_total(self) -> int:
        """Return every call counted as a success."""
        return self._successes + self._counted_ok

    @property
    def failures_total(self) -> int:
        """Return every call counted as a failure."""
        return self._failures_total

    @property
    def rejected_total(self) -> int:
        """Return every call refused without running."""
        return self._rejected

    def transitions(self) -> dict[tuple[BreakerState, BreakerState], int]:
        """Return how often each (from, to) transition happened in this process."""
        with self._lock:
            return dict(self._transitions)

    def status(self) -> BreakerStatus:
        """Return a consistent snapshot of the breaker."""
        state = self.state
        with self._lock:
            remaining = None
            if self._state is BreakerState.OPEN:
                remaining = max(0.0, self._open_until - self._mono())
            return BreakerStatus(
                name=self.name,
                state=state,
                failure_count=self._failures,
                last_failure_time=self._last_failure_wall,
                opened_at=self._opened_at_wall,
                remaining_s=remaining,
                successes_total=self.successes_total,
                failures_total=self._failures_total,
                rejected_total=self._rejected,
            )

    def add_listener(self, listener: Listener) -> None:
        """Call ``listener(breaker, old, new)`` after every transition."""
        self._listeners.append(listener)

    # -- operator actions -------------------------------------------------------------------

    def force_open(self) -> None:
        """Reject every call until an operator closes, resets or disables the breaker."""
        self._set(BreakerState.FORCED_OPEN)

    def disable(self) -> None:
        """Let every call through uncounted until an operator closes or resets the breaker."""
        self._set(BreakerState.DISABLED)

    def open(self) -> None:
        """Trip the breaker now: OPEN, recovering through HALF_OPEN after ``timeout_s``."""
        self._set(BreakerState.OPEN)

    def reset(self) -> None:
        """Return to CLOSED with every count cleared, whatever the state."""
        self._set(BreakerState.CLOSED)

    close = reset

    def _set(self, state: BreakerState) -> None:
        with self._lock:
            pending = self._transition(state, self._mono(), operator=True)
        self._notify(pending)

    def _adopt(
        self,
        state: BreakerState,
        failure_count: int,
        last_failure_wall: float | None,
        remaining_s: float | None,
        *,
        superseded: Callable[[], bool] | None = None,
    ) -> None:
        """Take up a state another process (or an operator, by hand) wrote: the sync calls this.

        ``superseded()``, asked under the lock, says a local change came since the snapshot.
        """
        clock = self.clock
        now = clock.monotonic()
        with self._lock:
            if superseded is not None and superseded():
                return
            pending = None
            if state is not self._state:
                pending = self._transition(state, now, remaining_s=remaining_s, announce=False)
            if self._state is BreakerState.CLOSED and self._window is None:
                self._failures = failure_count
                self._last_failure_wall = last_failure_wall
                if failure_count and last_failure_wall is not None:
                    self._last_failure = now - max(0.0, clock.now() - last_failure_wall)
                elif not failure_count:
                    self._last_failure = -float("inf")
        self._notify(pending)

    def _window_outcome(self, started: float, failed: bool, ok: bool) -> None:
        """Record a call admitted while CLOSED with a window (the lock-free admission)."""
        if not (failed or ok):
            return
        now = self._mono()
        slow = now - started >= self._slow_s
        wall = self.clock.now() if failed else 0.0
        window = self._window
        pending = None
        with self._lock:
            if failed:
                self._failures_total += 1
                self._last_failure_wall = wall
            else:
                self._counted_ok += 1
            if (
                self._state is BreakerState.CLOSED
                and window is not None
                and window.record(now, failed, slow)
            ):
                pending = self._transition(BreakerState.OPEN, now)
        if pending:
            self._notify(pending)

    def _is_failure(self, exc: BaseException) -> bool:
        config = self.config
        if isinstance(exc, config.ignore_exceptions) or not isinstance(
            exc, config.record_exceptions
        ):
            return False
        predicate = config.failure_predicate
        return predicate is None or bool(predicate(exc))

    # -- the fast path's exits ----------------------------------------------------------------

    def _fast_error(self, exc: BaseException) -> None:
        if self._is_failure(exc):
            self._fast_failure()

    def _fast_failure(self) -> None:
        clock = self.clock
        now = self._mono()
        wall = clock.now()
        pending = None
        with self._lock:
            self._failures_total += 1
            if self._state is not BreakerState.CLOSED:
                return  # admitted while CLOSED, finished after a transition: counted only
            self._count_consecutive(now, wall)
            if self._failures >= self.config.failure_threshold:
                pending = self._transition(BreakerState.OPEN, now)
        self._notify(pending)

    def _recovered(self) -> None:
        with self._lock:
            if self._failures and self._state is BreakerState.CLOSED:
                self._failures = 0
                if self._sync is not None:
                    self._sync.on_recovered(cast("CircuitBreaker", self))

    # -- admission and outcomes (short sections under the lock) ---------------------------

    def _admit(self) -> tuple[int, int, float]:
        """Return (kind, epoch, start time) for a call allowed to run, or raise."""
        now = self._mono()
        remaining: float | None = None
        with self._lock:
            pending = self._maybe_half_open(now)
            state = self._state
            if state is BreakerState.CLOSED:
                admitted = (_COUNTED, self._epoch, now)
            elif state is BreakerState.DISABLED:
                admitted = (_PASS, self._epoch, now)
            elif state is BreakerState.HALF_OPEN and (
                self._inflight < self.config.permitted_calls_in_half_open
            ):
                self._inflight += 1
                admitted = (_TRIAL, self._epoch, now)
            else:
                self._rejected += 1
                if state is BreakerState.OPEN:
                    remaining = self._open_until - now
                admitted = None
        try:
            self._notify(pending)
        except BaseException:  # a listener's KeyboardInterrupt: the call never runs
            if admitted is not None:
                self._complete(*admitted, False, ok=False)  # give a trial's slot back
            raise
        if admitted is None:
            raise CircuitOpenError(self.name, state, remaining)
        return admitted

    def _complete(self, kind: int, epoch: int, started: float, failed: bool, *, ok: bool) -> None:
        """Record the outcome of an admitted call: ``failed``, or ``ok``, or neither."""
        if kind == _PASS:
            return
        window = self._window
        now = self._mono() if window is not None or failed else started
        slow = window is not None and now - started >= self.config.slow_call_duration_s
        wall = self.clock.now() if failed else 0.0
        with self._lock:
            if failed:
                self._failures_total += 1
            elif ok:
                self._counted_ok += 1
            if kind == _TRIAL:
                pending = self._trial_outcome(epoch, now, failed=failed or (slow and ok), ok=ok)
            elif self._state is BreakerState.CLOSED and (failed or ok):
                pending = self._closed_outcome(now, wall, failed=failed, slow=slow)
            else:
                pending = None
        self._notify(pending)

    def _complete_error(self, kind: int, epoch: int, started: float, exc: BaseException) -> None:
        """Record an admitted call that raised ``exc``."""
        try:
            failed = self._is_failure(exc)
        except BaseException:
            self._complete(kind, epoch, started, False, ok=False)  # the predicate's bug: free it
            raise
        self._complete(kind, epoch, started, failed, ok=False)

    def _trial_outcome(
        self, epoch: int, now: float, *, failed: bool, ok: bool
    ) -> list[tuple[BreakerState, BreakerState]] | None:
        if epoch != self._epoch or self._state is not BreakerState.HALF_OPEN:
            return None  # the breaker moved on while this trial ran
        self._inflight -= 1
        if failed:
            return self._transition(BreakerState.OPEN, now)
        if ok:
            self._trial_successes += 1
            if self._trial_successes >= self.config.success_threshold:
                return self._transition(BreakerState.CLOSED, now)
        return None  # an ignored exception frees the slot and decides nothing

    def _closed_outcome(
        self, now: float, wall: float, *, failed: bool, slow: bool
    ) -> list[tuple[BreakerState, BreakerState]] | None:
        window = self._window
        if window is not None:
            exceeded = window.record(now, failed, slow)
            if failed:
                self._last_failure_wall = wall
            return self._transition(BreakerState.OPEN, now) if exceeded else None
        if failed:
            self._count_consecutive(now, wall)
            if self._failures >= self.config.failure_threshold:
                return self._transition(BreakerState.OPEN, now)
        elif self._failures:
            self._failures = 0
            if self._sync is not None:
                self._sync.on_recovered(cast("CircuitBreaker", self))
        return None

    def _count_consecutive(self, now: float, wall: float) -> None:
        if now - self._last_failure > self.config.monitoring_period_s:
            self._failures = 0
        self._failures += 1
        self._last_failure = now
        self._last_failure_wall = wall
        if self._sync is not None:
            self._sync.on_failure(cast("CircuitBreaker", self))

    # -- transitions (called with the lock held) ------------------------------------------

    def _maybe_half_open(self, now: float) -> list[tuple[BreakerState, BreakerState]] | None:
        if self._state is BreakerState.OPEN and now >= self._open_until:
            return self._transition(BreakerState.HALF_OPEN, now)
        return None

    def _transition(
        self,
        new: BreakerState,
        now: float,
        *,
        remaining_s: float | None = None,
        announce: bool = True,
        operator: bool = False,
    ) -> list[tuple[BreakerState, BreakerState]] | None:
        old = self._state
        if old is new and new is not BreakerState.CLOSED:
            return None
        self._state = new
        self._epoch += 1
        self._inflight = 0
        self._trial_successes = 0
        self._fast = new is BreakerState.CLOSED and self._window is None
        self._fast_window = new is BreakerState.CLOSED and self._window is not None
        if new is BreakerState.OPEN:
            timeout = self.config.timeout_s if remaining_s is None else remaining_s
            self._open_until = now + timeout
            self._opened_at_wall = self.clock.now() - (self.config.timeout_s - timeout)
        elif new is not BreakerState.HALF_OPEN:
            self._opened_at_wall = None
        if new is BreakerState.CLOSED:
            self._failures = 0
            self._last_failure = -float("inf")
            if self._window is not None:
                self._window.clear()
        if old is new:
            # A reset of a CLOSED breaker clears the counts: no transition, but shared too.
            if announce and self._sync is not None:
                self._sync.on_transition(cast("CircuitBreaker", self), old, new, operator=operator)
            return None
        key = (old, new)
        self._transitions[key] = self._transitions.get(key, 0) + 1
        if announce and self._sync is not None:
            self._sync.on_transition(cast("CircuitBreaker", self), old, new, operator=operator)
        return [key]

    def _notify(self, pending: list[tuple[BreakerState, BreakerState]] | None) -> None:
        if not pending:
            return
        for old, new in pending:
            level = (
                logging.WARNING
                if new in (BreakerState.OPEN, BreakerState.FORCED_OPEN)
                else logging.INFO
            )
            logger.log(level, "circuit breaker %r: %s -> %s", self.name, old.value, new.value)
            for listener in list(self._listeners):
                try:
                    listener(cast("CircuitBreaker", self), old, new)
                except Exception:
                    logger.exception("circuit breaker %r: a listener failed", self.name)
