"""The exception hierarchy of the warden.

    TradewardenError                 base of everything raised on purpose
    ├── ConfigError                  settings or config file invalid (exit code 2)
    ├── StoreError                   the database refused or is unreachable
    │   └── ConflictError            a unique value is taken (a user name, ...)
    ├── NotFoundError                a named thing does not exist
    ├── AuthError                    authentication failed (HTTP 401)
    │   ├── PermissionDeniedError    authenticated, but the role is too low (HTTP 403)
    │   └── LoginThrottledError      too many failed logins (HTTP 429; auth)
    └── RedisUnavailableError        Redis is down or its pool exhausted (redisconn)

Each error says whether retrying can help (``permanent``).
"""

from __future__ import annotations

__all__ = [
    "AuthError",
    "ConfigError",
    "ConflictError",
    "NotFoundError",
    "PermissionDeniedError",
    "StoreError",
    "TradewardenError",
]


class TradewardenError(Exception):
    """Base class; ``permanent`` tells whether a retry can succeed."""

    permanent: bool = True

    def __init__(self, message: str, *, permanent: bool | None = None) -> None:
        super().__init__(message)
        self.message = message
        if permanent is not None:
            self.permanent = permanent


class ConfigError(TradewardenError):
    """Settings or the config file are invalid; the service refuses to start."""

    exit_code = 2


class StoreError(TradewardenError):
    """The database refused a statement or could not be reached."""

    permanent = False


class ConflictError(StoreError):
    """A value that must be unique is already taken."""

    permanent = True


class NotFoundError(TradewardenError):
    """A named object does not exist."""


class AuthError(TradewardenError):
    """Credentials are missing, wrong, expired or tampered with."""


class PermissionDeniedError(AuthError):
    """The caller is known but its role is too low for the action."""
