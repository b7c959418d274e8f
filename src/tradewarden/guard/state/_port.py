"""The one port every trading-state back end implements (memory, SQLite file, Redis)."""

from __future__ import annotations

from typing import Protocol

from tradewarden.guard.state._record import StateChange

__all__ = ["StateBackend", "StateWatcher", "Subscription"]


class StateWatcher(Protocol):
    """What a back end tells its watchers; called from the back end's own thread."""

    def state_changed(self, change: StateChange) -> None:
        """Take the stored state as now read (also after the back end comes back)."""
        ...

    def state_unavailable(self, error: Exception) -> None:
        """Learn that the stored state cannot be read any more."""
        ...


class Subscription(Protocol):
    """A running watch; closing it stops the notifications."""

    def close(self) -> None:
        """Stop watching."""
        ...


class StateBackend(Protocol):
    """Where the trading state lives: a versioned record plus its history.

    ``load`` and ``write`` raise ``StateUnavailableError`` when the store cannot be used, and
    ``write`` raises ``VersionConflictError`` when the stored version is not ``expected_version``
    (compare-and-set; an empty store is at version 0). ``watch`` calls ``state_changed``
    for every change any process stores, soon after it is stored, and ``state_unavailable``
    when the store is lost; when it comes back the current record is delivered again.
    A watcher must ignore versions it already has.
    """

    def load(self) -> StateChange | None:
        """Return the current stored change, or None when nothing was ever written."""
        ...

    def write(self, change: StateChange, *, expected_version: int) -> None:
        """Store ``change`` if the stored version is ``expected_version``."""
        ...

    def history(self, limit: int = 100) -> list[StateChange]:
        """Return up to ``limit`` stored changes, newest first."""
        ...

    def watch(self, watcher: StateWatcher) -> Subscription:
        """Start delivering changes to ``watcher``."""
        ...

    def close(self) -> None:
        """Stop every watch and release connections."""
        ...
