"""Retry policies on tenacity that act on the classifier's verdict.

    TradewardenError
    └── RetryGaveUpError          the call did not succeed; ``failure`` says why
        ├── PermanentFailureError a failure retrying cannot help (permanent)
        └── RetriesExhaustedError attempts or deadline used up on a retryable failure

Backoff is exponential with full jitter (a uniform draw between 0 and the capped
exponential step, as in AWS's "Exponential Backoff and Jitter"), and never shorter than a
server's ``Retry-After``. The deadline is checked before sleeping: a wait that would end
past it is not started. Time and sleep are injected, so tests wait for nothing.
"""

from __future__ import annotations

import asyncio
import inspect
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from tenacity import AsyncRetrying, RetryCallState, Retrying, retry_if_exception

from tradewarden.clock import Clock, SystemClock
from tradewarden.errors import TradewardenError
from tradewarden.guard.retry._classify import Action, Failure, classify
from tradewarden.guard.retry._fees import FeeLevel

__all__ = [
    "Attempt",
    "PermanentFailureError",
    "RetriesExhaustedError",
    "RetryGaveUpError",
    "RetryPolicy",
]

T = TypeVar("T")
Classifier = Callable[[BaseException], Failure]
RefreshBlockhash = Callable[[], object]


class RetryGaveUpError(TradewardenError):
    """The call did not succeed; ``failure`` is the last failure, classified."""

    def __init__(self, message: str, failure: Failure, attempts: int) -> None:
        super().__init__(message, permanent=not failure.retryable)
        self.failure = failure
        self.attempts = attempts


class PermanentFailureError(RetryGaveUpError):
    """A failure that no retry can fix: insufficient funds, slippage, a failed simulation."""


class RetriesExhaustedError(RetryGaveUpError):
    """The failure was retryable, but the attempts or the deadline ran out."""


@dataclass(slots=True)
class Attempt:
    """What the called function is told about its attempt: number, fee level, last failure."""

    number: int = 1
    fee_level: FeeLevel = FeeLevel.NONE
    last_failure: Failure | None = None

    @property
    def fee_lamports(self) -> int:
        """Return the priority fee to build this attempt's transaction with."""
        return self.fee_level.lamports


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often, how long and how far apart to retry; sync (``call``) and async (``acall``).

    ``max_attempts`` counts the first try. ``deadline_s`` bounds the whole call, sleeps
    included (None: no deadline). ``max_fee_level`` caps how far ``RAISE_FEE`` climbs.
    """

    max_attempts: int = 5
    initial_delay_s: float = 0.2
    max_delay_s: float = 10.0
    multiplier: float = 2.0
    deadline_s: float | None = 60.0
    max_fee_level: FeeLevel = FeeLevel.ULTRA
    clock: Clock = field(default_factory=SystemClock, compare=False)
    rng: random.Random = field(default_factory=random.Random, compare=False)
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)
    asleep: Callable[[float], Awaitable[None]] = field(default=asyncio.sleep, compare=False)
    classifier: Classifier = field(default=classify, compare=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.initial_delay_s < 0 or self.max_delay_s < self.initial_delay_s:
            raise ValueError("delays must satisfy 0 <= initial_delay_s <= max_delay_s")
        if self.deadline_s is not None and self.deadline_s <= 0:
            raise ValueError("deadline_s must be positive (or None)")

    def backoff_s(self, attempt_number: int, failure: Failure | None = None) -> float:
        """Return the wait after attempt ``attempt_number`` failed with ``failure``."""
        step = self.initial_delay_s * self.multiplier ** (attempt_number - 1)
        wait = self.rng.uniform(0.0, min(self.max_delay_s, step))
        if failure is not None and failure.retry_after_s is not None:
            wait = max(wait, failure.retry_after_s)
        return wait

    def call(
        self,
        fn: Callable[[Attempt], T],
        *,
        fee_level: FeeLevel = FeeLevel.NONE,
        refresh_blockhash: RefreshBlockhash | None = None,
    ) -> T:
        """Call ``fn(attempt)`` until it succeeds or the policy gives up."""
        run = _Run(self, Attempt(fee_level=fee_level))
        retrying = Retrying(
            sleep=self.sleep,
            stop=run.stop,
            wait=run.wait,
            retry=retry_if_exception(run.should_retry),
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    run.prepare(attempt.retry_state.attempt_number)
                    if run.needs_blockhash and refresh_blockhash is not None:
                        refresh_blockhash()
                    return fn(run.attempt)
        except Exception as exc:
            raise run.gave_up(exc) from exc
        raise AssertionError("unreachable: tenacity either returns or raises")  # pragma: no cover

    async def acall(
        self,
        fn: Callable[[Attempt], Awaitable[T]],
        *,
        fee_level: FeeLevel = FeeLevel.NONE,
        refresh_blockhash: Callable[[], object] | None = None,
    ) -> T:
        """Await ``fn(attempt)`` until it succeeds or the policy gives up."""
        run = _Run(self, Attempt(fee_level=fee_level))
        retrying = AsyncRetrying(
            sleep=self.asleep,
            stop=run.stop,
            wait=run.wait,
            retry=retry_if_exception(run.should_retry),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    run.prepare(attempt.retry_state.attempt_number)
                    if run.needs_blockhash and refresh_blockhash is not None:
                        refreshed = refresh_blockhash()
                        if inspect.isawaitable(refreshed):
                            await refreshed
                    return await fn(run.attempt)
        except Exception as exc:
            raise run.gave_up(exc) from exc
        raise AssertionError("unreachable: tenacity either returns or raises")  # pragma: no cover


class _Run:
    """One call's state: the attempt handed to the function and the tenacity hooks."""

    def __init__(self, policy: RetryPolicy, attempt: Attempt) -> None:
        self.policy = policy
        self.attempt = attempt
        self.started = policy.clock.monotonic()
        self.needs_blockhash = False
        self.fee_ceiling_hit = False
        self.out_of_time = False

    def prepare(self, number: int) -> None:
        """Apply the last failure's action before attempt ``number``."""
        self.attempt.number = number
        failure = self.attempt.last_failure
        self.needs_blockhash = failure is not None and failure.action in {
            Action.REFRESH_BLOCKHASH,
            Action.RAISE_FEE,  # a re-built transaction needs a blockhash that is still valid
        }
        if failure is not None and failure.action is Action.RAISE_FEE:
            higher = self.attempt.fee_level.next(self.policy.max_fee_level)
            if higher is not None:
                self.attempt.fee_level = higher

    def should_retry(self, exc: BaseException) -> bool:
        failure = self.policy.classifier(exc)
        self.attempt.last_failure = failure
        if failure.action is Action.RAISE_FEE and (
            self.attempt.fee_level.next(self.policy.max_fee_level) is None
        ):
            self.fee_ceiling_hit = True
            return False
        return failure.retryable

    def wait(self, state: RetryCallState) -> float:
        return self.policy.backoff_s(state.attempt_number, self.attempt.last_failure)

    def stop(self, state: RetryCallState) -> bool:
        if state.attempt_number >= self.policy.max_attempts:
            return True
        deadline_s = self.policy.deadline_s
        if deadline_s is None:
            return False
        elapsed_s = self.policy.clock.monotonic() - self.started
        self.out_of_time = elapsed_s + state.upcoming_sleep > deadline_s
        return self.out_of_time

    def gave_up(self, exc: Exception) -> RetryGaveUpError:
        failure = self.attempt.last_failure or self.policy.classifier(exc)
        tries = self.attempt.number
        detail = f"{failure.kind.value}: {failure.message}" if failure.message else failure.kind
        if not failure.retryable:
            return PermanentFailureError(f"failed permanently ({detail})", failure, tries)
        if self.fee_ceiling_hit:
            why = f"at the highest fee level {self.attempt.fee_level.name}"
        elif self.out_of_time:
            why = f"the {self.policy.deadline_s:g} s deadline would pass"
        else:
            why = f"after {tries} attempts"
        return RetriesExhaustedError(f"gave up {why} ({detail})", failure, tries)
