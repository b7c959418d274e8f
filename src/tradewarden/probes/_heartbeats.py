"""Push monitors (a dead man's switch, the Healthchecks model): bots ping, the warden
notices when the pings stop.

A ping is written to the store before it counts, so a restart remembers how long a bot
has been silent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal, Protocol

from tradewarden.clock import Clock

__all__ = ["Beat", "HeartbeatBoard", "HeartbeatStore", "PingKind", "PingListener"]

PingKind = Literal["success", "fail", "start"]
_log = logging.getLogger("tradewarden.probes")


@dataclass(frozen=True, slots=True)
class Beat:
    """What the warden knows of one heartbeat."""

    last_ping_at: float | None = None
    last_start_at: float | None = None
    last_status: PingKind | None = None
    last_duration_s: float | None = None
    message: str | None = None
    pings_total: int = 0


PingListener = Callable[[str, PingKind, "Beat"], None]
"""Called with the heartbeat's name, the ping's kind and the new beat once it counts."""


class HeartbeatStore(Protocol):
    """Where beats are kept across restarts."""

    async def load_all(self) -> dict[str, Beat]:
        """Return every stored beat."""
        ...

    async def save(self, name: str, beat: Beat) -> None:
        """Store ``beat`` for ``name``; raise when it could not be stored."""
        ...


class HeartbeatBoard:
    """The latest beat of every heartbeat, in memory, backed by a store."""

    def __init__(self, store: HeartbeatStore | None, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        self._beats: dict[str, Beat] = {}
        self._listeners: list[PingListener] = []
        self.started_at = clock.now()

    def add_listener(self, listener: PingListener) -> None:
        """Call ``listener`` after every ping that counted (none: nothing called)."""
        self._listeners.append(listener)

    async def load(self) -> None:
        """Read the stored beats (at start-up)."""
        self.started_at = self._clock.now()
        if self._store is not None:
            self._beats = await self._store.load_all()

    def get(self, name: str) -> Beat | None:
        """Return the latest beat of ``name``."""
        return self._beats.get(name)

    async def ping(self, name: str, kind: PingKind, message: str | None = None) -> Beat:
        """Record a ping; a success after a start records the run's duration."""
        now = self._clock.now()
        previous = self._beats.get(name, Beat())
        beat = replace(previous, pings_total=previous.pings_total + 1)
        if kind == "start":
            beat = replace(beat, last_start_at=now)
        else:
            duration = None
            if kind == "success" and previous.last_start_at is not None:
                duration = max(0.0, now - previous.last_start_at)
            beat = replace(
                beat,
                last_ping_at=now,
                last_status=kind,
                last_duration_s=duration if duration is not None else previous.last_duration_s,
                last_start_at=None if kind == "success" else previous.last_start_at,
                message=(message or None) if kind == "fail" else None,
            )
        if self._store is not None:
            await self._store.save(name, beat)
        self._beats[name] = beat
        for listener in list(self._listeners):
            try:
                listener(name, kind, beat)
            except Exception:  # noqa: BLE001 -- a listener must not break the action
                _log.exception("heartbeat ping listener failed")
        return beat
