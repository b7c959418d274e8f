"""Flips made durable in the store (the FlipRecorder of the running warden)."""

from __future__ import annotations

from datetime import datetime
from typing import cast

from tradewarden.clock import utc_datetime
from tradewarden.probes._heartbeats import Beat, PingKind
from tradewarden.probes._model import MonitorState
from tradewarden.probes._ports import Flip
from tradewarden.store import Database, FlipRepository, HeartbeatRepository

__all__ = ["StoreFlipRecorder", "StoreHeartbeats"]


class StoreFlipRecorder:
    """Write each flip in its own transaction before it is announced."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def record(self, flip: Flip) -> None:
        """Store ``flip``."""
        async with self._database.session() as session:
            await FlipRepository(session).add(
                monitor=flip.monitor,
                old_state=flip.old,
                new_state=flip.new,
                reason=flip.reason[:2000],
                at=utc_datetime(flip.at),
            )

    async def latest_states(self) -> dict[str, MonitorState]:
        """Return each monitor's last stored state."""
        async with self._database.read_session() as session:
            states = await FlipRepository(session).latest_states()
        return {name: cast("MonitorState", state) for name, state in states.items()}


class StoreHeartbeats:
    """Heartbeat beats kept in the store."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def load_all(self) -> dict[str, Beat]:
        """Return every stored beat."""
        async with self._database.read_session() as session:
            rows = await HeartbeatRepository(session).all()
        return {
            row.name: Beat(
                last_ping_at=row.last_ping_at.timestamp() if row.last_ping_at else None,
                last_start_at=row.last_start_at.timestamp() if row.last_start_at else None,
                last_status=cast("PingKind | None", row.last_status),
                last_duration_s=row.last_duration_s,
                message=row.message,
                pings_total=row.pings_total,
            )
            for row in rows
        }

    async def save(self, name: str, beat: Beat) -> None:
        """Store ``beat``."""
        async with self._database.session() as session:
            row = await HeartbeatRepository(session).get_for_update(name)
            row.last_ping_at = _when(beat.last_ping_at)
            row.last_start_at = _when(beat.last_start_at)
            row.last_status = beat.last_status
            row.last_duration_s = beat.last_duration_s
            row.message = beat.message[:2000] if beat.message else None
            row.pings_total = beat.pings_total


def _when(epoch_s: float | None) -> datetime | None:
    return None if epoch_s is None else utc_datetime(epoch_s)
