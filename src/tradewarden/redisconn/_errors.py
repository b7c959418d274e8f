"""Errors of the managed Redis client.

TradewardenError                  (tradewarden.errors)
└── RedisUnavailableError         no ready connection in time, or the client is closed
"""

from __future__ import annotations

from tradewarden.errors import TradewardenError

__all__ = ["RedisUnavailableError"]


class RedisUnavailableError(TradewardenError):
    """Redis could not be reached in time; retrying later can succeed."""

    permanent = False
