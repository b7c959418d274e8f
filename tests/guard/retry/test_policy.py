"""Retry policies: backoff, Retry-After, deadlines, blockhash refresh and the fee ladder."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradewarden.clock import ManualClock
from tradewarden.guard.retry import (
    Attempt,
    Failure,
    FailureKind,
    FeeLevel,
    PermanentFailureError,
    RetriesExhaustedError,
    RetryPolicy,
)


class Sleeper:
    """Sleeps that only move a manual clock, and remember how long they were."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.clock.advance(seconds)

    async def asleep(self, seconds: float) -> None:
        self(seconds)


class FailingError(Exception):
    """An exception that carries its own classification."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.message)
        self.failure = failure


def flaky(*failures: Failure, result: str = "ok") -> Any:
    """Return a function failing with ``failures`` in turn, then returning ``result``."""
    pending = list(failures)
    seen: list[Attempt] = []

    def fn(attempt: Attempt) -> str:
        seen.append(Attempt(attempt.number, attempt.fee_level, attempt.last_failure))
        if pending:
            raise FailingError(pending.pop(0))
        return result

    fn.seen = seen  # type: ignore[attr-defined]
    return fn


def policy(sleeper: Sleeper, **overrides: Any) -> RetryPolicy:
    options: dict[str, Any] = {
        "clock": sleeper.clock,
        "rng": random.Random(7),
        "sleep": sleeper,
        "asleep": sleeper.asleep,
    }
    options.update(overrides)
    return RetryPolicy(**options)


@pytest.fixture
def sleeper() -> Sleeper:
    return Sleeper(ManualClock())


def test_a_retryable_failure_is_retried_until_it_succeeds(sleeper: Sleeper) -> None:
    fn = flaky(Failure(FailureKind.TIMEOUT), Failure(FailureKind.ACCOUNT_IN_USE))
    assert policy(sleeper).call(fn) == "ok"
    assert [a.number for a in fn.seen] == [1, 2, 3]
    assert len(sleeper.waits) == 2


def test_a_permanent_failure_is_not_retried_and_keeps_its_logs(sleeper: Sleeper) -> None:
    logs = ("Program log: Error: insufficient funds",)
    fn = flaky(Failure(FailureKind.SIMULATION_FAILED, "simulation failed", -32002, logs))
    with pytest.raises(PermanentFailureError) as caught:
        policy(sleeper).call(fn)
    assert caught.value.failure.logs == logs
    assert caught.value.permanent
    assert caught.value.attempts == 1
    assert isinstance(caught.value.__cause__, FailingError)
    assert sleeper.waits == []


def test_attempts_run_out(sleeper: Sleeper) -> None:
    fn = flaky(*[Failure(FailureKind.NETWORK)] * 5)
    with pytest.raises(RetriesExhaustedError) as caught:
        policy(sleeper, max_attempts=3).call(fn)
    assert caught.value.attempts == 3
    assert not caught.value.permanent
    assert len(fn.seen) == 3


def test_retry_after_is_waited_at_least(sleeper: Sleeper) -> None:
    fn = flaky(Failure(FailureKind.RATE_LIMITED, retry_after_s=7.0))
    assert policy(sleeper, initial_delay_s=0.1, max_delay_s=1.0).call(fn) == "ok"
    assert sleeper.waits == [7.0]


def test_a_wait_that_would_pass_the_deadline_is_not_started(sleeper: Sleeper) -> None:
    fn = flaky(Failure(FailureKind.RATE_LIMITED, retry_after_s=30.0))
    with pytest.raises(RetriesExhaustedError, match="deadline"):
        policy(sleeper, deadline_s=10.0).call(fn)
    assert sleeper.waits == []
    assert len(fn.seen) == 1


def test_blockhash_not_found_refreshes_the_blockhash_before_the_retry(sleeper: Sleeper) -> None:
    events: list[str] = []
    failures = [Failure(FailureKind.BLOCKHASH_NOT_FOUND)]

    def send(attempt: Attempt) -> str:
        events.append(f"send {attempt.number}")
        if failures:
            raise FailingError(failures.pop())
        return "signature"

    result = policy(sleeper).call(send, refresh_blockhash=lambda: events.append("refresh"))
    assert result == "signature"
    assert events == ["send 1", "refresh", "send 2"]


def test_fee_too_low_climbs_the_seeds_fee_ladder(sleeper: Sleeper) -> None:
    refreshed: list[int] = []
    fn = flaky(*[Failure(FailureKind.FEE_TOO_LOW)] * 3)
    policy(sleeper).call(fn, fee_level=FeeLevel.LOW, refresh_blockhash=lambda: refreshed.append(1))
    assert [a.fee_level.lamports for a in fn.seen] == [1_000, 10_000, 100_000, 1_000_000]
    assert len(refreshed) == 3  # a rebuilt transaction needs a valid blockhash


def test_the_fee_ladder_stops_at_its_ceiling(sleeper: Sleeper) -> None:
    fn = flaky(*[Failure(FailureKind.FEE_TOO_LOW)] * 5)
    with pytest.raises(RetriesExhaustedError, match="HIGH"):
        policy(sleeper, max_fee_level=FeeLevel.HIGH).call(fn, fee_level=FeeLevel.MEDIUM)
    assert [a.fee_level for a in fn.seen] == [FeeLevel.MEDIUM, FeeLevel.HIGH]


def test_fee_levels_are_the_seeds() -> None:
    assert {level.name: level.lamports for level in FeeLevel} == {
        "NONE": 0,
        "LOW": 1_000,
        "MEDIUM": 10_000,
        "HIGH": 100_000,
        "TURBO": 1_000_000,
        "ULTRA": 10_000_000,
    }
    assert FeeLevel.ULTRA.next() is None
    assert FeeLevel.NONE.next() is FeeLevel.LOW


async def test_async_calls_retry_with_an_async_blockhash_refresh(sleeper: Sleeper) -> None:
    failures = [
        Failure(FailureKind.BLOCKHASH_NOT_FOUND),
        Failure(FailureKind.RATE_LIMITED, retry_after_s=2.0),
    ]
    refreshed: list[int] = []

    async def refresh() -> None:
        refreshed.append(1)

    async def send(attempt: Attempt) -> int:
        if failures:
            raise FailingError(failures.pop(0))
        return attempt.number

    assert await policy(sleeper).acall(send, refresh_blockhash=refresh) == 3
    assert refreshed == [1]
    assert sleeper.waits[1] >= 2.0


async def test_async_permanent_failure(sleeper: Sleeper) -> None:
    async def send(attempt: Attempt) -> None:
        raise FailingError(Failure(FailureKind.SLIPPAGE_EXCEEDED, "Slippage tolerance exceeded"))

    with pytest.raises(PermanentFailureError, match="slippage_exceeded") as caught:
        await policy(sleeper).acall(send)
    assert caught.value.failure.surfaced


def test_an_exception_nobody_understands_is_not_retried(sleeper: Sleeper) -> None:
    calls: list[int] = []

    def fn(attempt: Attempt) -> None:
        calls.append(1)
        raise KeyError("bug")

    with pytest.raises(PermanentFailureError):
        policy(sleeper).call(fn)
    assert calls == [1]


@given(
    attempt=st.integers(min_value=1, max_value=40),
    initial=st.floats(min_value=0.0, max_value=5.0),
    cap=st.floats(min_value=5.0, max_value=60.0),
    seed=st.integers(),
)
def test_full_jitter_stays_between_zero_and_the_capped_step(
    attempt: int, initial: float, cap: float, seed: int
) -> None:
    retry = RetryPolicy(initial_delay_s=initial, max_delay_s=cap, rng=random.Random(seed))
    wait = retry.backoff_s(attempt)
    assert 0.0 <= wait <= min(cap, initial * 2.0 ** (attempt - 1))


def test_invalid_policies_are_refused() -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError, match="delays"):
        RetryPolicy(initial_delay_s=5.0, max_delay_s=1.0)
