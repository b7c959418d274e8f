"""A watcher that records what a back end tells it (thread-safe)."""

from __future__ import annotations

import threading

from tradewarden.guard.state import StateChange


class RecordingWatcher:
    """Keep every change and error a back end delivers."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.changes: list[StateChange] = []
        self.errors: list[Exception] = []

    def state_changed(self, change: StateChange) -> None:
        with self._lock:
            self.changes.append(change)

    def state_unavailable(self, error: Exception) -> None:
        with self._lock:
            self.errors.append(error)

    def saw_version(self, version: int) -> bool:
        with self._lock:
            return any(change.version == version for change in self.changes)

    @property
    def last(self) -> StateChange | None:
        with self._lock:
            return self.changes[-1] if self.changes else None
