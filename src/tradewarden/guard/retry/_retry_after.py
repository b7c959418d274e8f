"""Parse an HTTP ``Retry-After`` header: seconds, or an HTTP date."""

from __future__ import annotations

from email.utils import parsedate_to_datetime

__all__ = ["parse_retry_after"]

# A server asking for more than an hour is not asking for a retry: treat it as a cap.
MAX_RETRY_AFTER_S = 3600.0


def parse_retry_after(value: str | None, now_s: float) -> float | None:
    """Return how many seconds ``value`` asks to wait from ``now_s``; None when unusable."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if text.isdigit():
        return min(float(text), MAX_RETRY_AFTER_S)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; a naive one is read as such
        return None
    return min(max(0.0, when.timestamp() - now_s), MAX_RETRY_AFTER_S)
