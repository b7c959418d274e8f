"""What the Redis-backed kinds (``redis``, ``queue``) share: URL checks and error text."""

from __future__ import annotations

from redis.exceptions import AuthenticationError, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from tradewarden.probes._secrets import check_url

__all__ = ["describe_redis_error", "redis_url_problem"]

_SCHEMES = frozenset({"redis", "rediss", "unix"})


def redis_url_problem(url: str) -> str | None:
    """Return what is wrong with ``url``, without quoting it, or None."""
    return check_url(url, _SCHEMES, "redis://, rediss:// or unix://")


def describe_redis_error(exc: Exception, timeout_s: float) -> str:
    """Return a short, operator-facing account of why Redis could not be read."""
    if isinstance(exc, TimeoutError):
        return f"timed out after {timeout_s:g} s"
    if isinstance(exc, RedisTimeoutError):
        return f"timed out: {exc}"
    if isinstance(exc, AuthenticationError):
        return f"authentication failed: {exc}"
    if isinstance(exc, RedisConnectionError):
        return f"cannot connect: {exc}"
    if isinstance(exc, ResponseError):
        # WRONGTYPE usually means the monitor names the wrong backend or key prefix.
        return f"error reply: {exc}"
    return f"{type(exc).__name__}: {exc}"
