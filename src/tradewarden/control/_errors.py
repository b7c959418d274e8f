"""Errors of the control services.

::

    TradewardenError (tradewarden.errors)
    └── ControlError
        ├── ControlUnavailableError    the back end or Redis cannot be used now (HTTP 503)
        └── ControlNotConfiguredError  what the action needs is not configured (HTTP 409)

Messages never hold a Redis password: they are built from redacted text.
"""

from __future__ import annotations

from tradewarden.errors import TradewardenError

__all__ = ["ControlError", "ControlNotConfiguredError", "ControlUnavailableError"]


class ControlError(TradewardenError):
    """Base of the control services' errors."""


class ControlUnavailableError(ControlError):
    """The trading-state back end or the breakers' Redis cannot be used now."""

    permanent = False


class ControlNotConfiguredError(ControlError):
    """The action needs something this warden is not configured with (Redis, ...)."""
