"""Pure decisions of the outbox: backoff with full jitter, the token bucket, and what an
attempt's outcome does to its notification."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tradewarden.notify._config import RetryConfig
from tradewarden.notify._outcome import Outcome, SendResult

__all__ = ["Next", "TokenBucket", "backoff_s", "decide"]


def backoff_s(attempt: int, retry: RetryConfig, random: Callable[[], float]) -> float:
    """Return the wait after failed attempt number ``attempt`` (1-based): uniform in
    [0, min(max, initial x 2^(attempt-1))] ("full jitter")."""
    ceiling = min(retry.max_backoff_s, retry.initial_backoff_s * 2.0 ** min(attempt - 1, 60))
    return random() * ceiling


@dataclass(frozen=True)
class Next:
    """What becomes of a notification after an attempt: ``delivered``, ``pending`` again
    at ``retry_at``, or ``failed`` (then the fallback channel gets a copy)."""

    state: str
    retry_at: float | None = None
    reason: str | None = None


def decide(
    result: SendResult,
    *,
    attempt: int,
    now: float,
    deadline: float,
    retry: RetryConfig,
    random: Callable[[], float],
) -> Next:
    """Decide the next step: a transient failure waits its backoff (never less than the
    ``Retry-After``) unless that ends past the deadline; a permanent one fails at once."""
    if result.outcome is Outcome.OK:
        return Next("delivered")
    if result.outcome is Outcome.PERMANENT:
        return Next("failed", reason=f"permanent failure: {result.error}")
    wait = max(backoff_s(attempt, retry, random), result.retry_after_s or 0.0)
    retry_at = now + wait
    if retry_at > deadline:
        return Next("failed", reason=f"deadline passed after {attempt} attempts: {result.error}")
    return Next("pending", retry_at=retry_at)


class TokenBucket:
    """``rate`` tokens a second, at most ``burst`` saved up; time is passed in.

    ``reserve`` always takes a token, borrowing from the future when none is left, and
    says when the borrowed one is there: a burst of sends is spread out at once (each
    gets its own slot) instead of every waiting send asking again and again.
    """

    def __init__(self, rate: float, burst: int) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._tokens = float(burst)
        self._at: float | None = None

    def reserve(self, now: float) -> float:
        """Take a token: return 0 when one was there, else how long until it is."""
        if self._at is not None and now > self._at:
            self._tokens = min(self._burst, self._tokens + (now - self._at) * self._rate)
        if self._at is None or now > self._at:
            self._at = now
        self._tokens -= 1.0
        if self._tokens >= -1e-9:  # float refills land a hair short of a whole token
            return 0.0
        return -self._tokens / self._rate
