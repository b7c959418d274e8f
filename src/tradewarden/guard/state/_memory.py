"""The in-memory back end: one process, no persistence (tests, simulations, paper bots)."""

from __future__ import annotations

import threading

from tradewarden.guard.state._errors import StateUnavailableError, VersionConflictError
from tradewarden.guard.state._port import StateWatcher, Subscription
from tradewarden.guard.state._record import INITIAL_STATE, StateChange

__all__ = ["MemoryBackend"]


class _MemorySubscription:
    def __init__(self, backend: MemoryBackend, watcher: StateWatcher) -> None:
        self._backend = backend
        self._watcher = watcher

    def close(self) -> None:
        self._backend._forget(self._watcher)


class MemoryBackend:
    """Keep the state in this process; watchers are told synchronously on every write.

    Nothing survives the process, so the kill switch is latched only for its lifetime.
    ``fail()`` and ``recover()`` simulate a store that cannot be read, for tests.
    """

    def __init__(self, history_limit: int = 1000) -> None:
        self._lock = threading.Lock()
        self._history: list[StateChange] = []
        self._history_limit = history_limit
        self._watchers: list[StateWatcher] = []
        self._error: Exception | None = None

    def load(self) -> StateChange | None:
        """Return the current change, or None."""
        with self._lock:
            self._raise_if_failed()
            return self._history[-1] if self._history else None

    def write(self, change: StateChange, *, expected_version: int) -> None:
        """Store ``change`` if the current version is ``expected_version``."""
        with self._lock:
            self._raise_if_failed()
            current = self._history[-1].version if self._history else 0
            if current != expected_version:
                raise VersionConflictError(expected_version, current)
            if change.version <= current:
                raise ValueError("a new change must have a higher version")
            self._history.append(change)
            del self._history[: -self._history_limit]
            watchers = list(self._watchers)
        for watcher in watchers:
            watcher.state_changed(change)

    def history(self, limit: int = 100) -> list[StateChange]:
        """Return up to ``limit`` changes, newest first."""
        with self._lock:
            self._raise_if_failed()
            return self._history[::-1][:limit]

    def watch(self, watcher: StateWatcher) -> Subscription:
        """Tell ``watcher`` about every write from now on."""
        with self._lock:
            self._watchers.append(watcher)
        return _MemorySubscription(self, watcher)

    def close(self) -> None:
        """Forget every watcher."""
        with self._lock:
            self._watchers.clear()

    def fail(self, error: Exception | None = None) -> None:
        """Make the store unreadable until ``recover()`` and tell the watchers."""
        error = error or StateUnavailableError("memory back end failed on purpose")
        with self._lock:
            self._error = error
            watchers = list(self._watchers)
        for watcher in watchers:
            watcher.state_unavailable(error)

    def recover(self) -> None:
        """Make the store readable again and deliver the current state."""
        with self._lock:
            self._error = None
            current = self._history[-1] if self._history else INITIAL_STATE
            watchers = list(self._watchers)
        for watcher in watchers:
            watcher.state_changed(current)

    def _forget(self, watcher: StateWatcher) -> None:
        with self._lock:
            if watcher in self._watchers:
                self._watchers.remove(watcher)

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise StateUnavailableError(str(self._error)) from self._error
