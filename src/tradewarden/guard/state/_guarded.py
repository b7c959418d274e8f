"""A watcher wrapper for the back ends' threads: a watcher's bug must not end the watch."""

from __future__ import annotations

import logging

from tradewarden.guard.state._port import StateWatcher
from tradewarden.guard.state._record import StateChange

__all__ = ["GuardedWatcher"]

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
