"""The back ends' watch threads, and the watcher wrapper that keeps them alive through a
watcher's bug."""

from __future__ import annotations

import logging
import threading

from tradewarden.guard.state._port import StateWatcher
from tradewarden.guard.state._record import StateChange

__all__ = ["GuardedWatcher", "WatchThread"]

_log = logging.getLogger("tradewarden.guard.state")


class GuardedWatcher:
    """Pass notifications on; log and swallow whatever the watcher raises."""

    def __init__(self, watcher: StateWatcher) -> None:
        self._watcher = watcher

    def state_changed(self, change: StateChange) -> None:
        """Deliver a change."""
        try:
            self._watcher.state_changed(change)
        except Exception:  # noqa: BLE001 -- the watch thread must outlive a watcher's bug
            _log.exception("trading state watcher failed on version %d", change.version)

    def state_unavailable(self, error: Exception) -> None:
        """Deliver a loss."""
        try:
            self._watcher.state_unavailable(error)
        except Exception:  # noqa: BLE001 -- the watch thread must outlive a watcher's bug
            _log.exception("trading state watcher failed on an outage")


class WatchThread:
    """One daemon thread started on creation that runs ``_run`` until ``close``."""

    def __init__(self, watcher: StateWatcher, name: str) -> None:
        self._watcher = GuardedWatcher(watcher)
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"tradewarden-state-watch:{name}", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        """Stop the thread and wait for it, unless called from it."""
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=5.0)

    def _run(self) -> None:
        raise NotImplementedError
