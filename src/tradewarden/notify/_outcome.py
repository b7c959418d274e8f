"""What one send attempt came to, and the pure rules that decide it from an HTTP answer."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from enum import StrEnum

__all__ = ["Outcome", "SendResult", "classify_http", "parse_retry_after"]


class Outcome(StrEnum):
    """Delivered; failed but worth another try; failed for good."""

    OK = "ok"
    TRANSIENT = "transient"
    PERMANENT = "permanent"


@dataclass(frozen=True)
class SendResult:
    """The outcome of one attempt; ``error`` is already free of secrets."""

    outcome: Outcome
    error: str | None = None
    retry_after_s: float | None = None
    status_code: int | None = None

    @classmethod
    def ok(cls, status_code: int | None = None) -> SendResult:
        """Return a success."""
        return cls(Outcome.OK, status_code=status_code)

    @classmethod
    def transient(cls, error: str, *, retry_after_s: float | None = None) -> SendResult:
        """Return a failure that another attempt may get past."""
        return cls(Outcome.TRANSIENT, error, retry_after_s)

    @classmethod
    def permanent(cls, error: str) -> SendResult:
        """Return a failure that no retry can fix (a bad key, a gone channel)."""
        return cls(Outcome.PERMANENT, error)


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """Return the wait a ``Retry-After`` asks for, in seconds (delta or HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - now)


def classify_http(
    status: int, headers: Mapping[str, str], *, now: float, what: str = "the service"
) -> SendResult:
    """Decide an HTTP answer: 2xx ok; 429 and 5xx transient (with their Retry-After);
    any other 4xx permanent; anything else (1xx, 3xx) transient."""
    if 200 <= status < 300:
        return SendResult.ok(status)
    retry_after = parse_retry_after(_header(headers, "retry-after"), now=now)
    if status == 429:
        return SendResult(
            Outcome.TRANSIENT, f"{what} answered HTTP 429 (rate limited)", retry_after, status
        )
    if 400 <= status < 500:
        return SendResult(Outcome.PERMANENT, f"{what} answered HTTP {status}", None, status)
    return SendResult(Outcome.TRANSIENT, f"{what} answered HTTP {status}", retry_after, status)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None
