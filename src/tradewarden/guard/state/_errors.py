"""Errors of the state back ends.

::

    TradewardenError (tradewarden.errors)
    └── StateError
        ├── StateUnavailableError   the state cannot be read or written now (retryable)
        └── VersionConflictError    compare-and-set lost: someone wrote first (retryable)
"""

from __future__ import annotations

from tradewarden.errors import TradewardenError

__all__ = ["StateError", "StateUnavailableError", "VersionConflictError"]


class StateError(TradewardenError):
    """Base of the state back ends' errors."""

    permanent = False


class StateUnavailableError(StateError):
    """The stored state could not be read or written (I/O failure, corrupt data, no server)."""


class VersionConflictError(StateError):
    """The stored version was not the one expected: re-read and decide again."""

    def __init__(self, expected: int, current: int) -> None:
        super().__init__(f"expected stored version {expected}, found {current}")
        self.expected = expected
        self.current = current
