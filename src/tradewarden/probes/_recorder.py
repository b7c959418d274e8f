"""Flips made durable in the store (the FlipRecorder of the running warden)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any, cast

from tradewarden.clock import utc_datetime
from tradewarden.probes._heartbeats import Beat, PingKind
from tradewarden.probes._model import MonitorState
from tradewarden.probes._ports import Flip
from tradewarden.store import Database, FlipRepository, HeartbeatRepository

__all__ = ["StoreFlipRecorder", "StoreHeartbeats"]


class StoreFlipRecorder:
    """Write flips before they are announced, many to a transaction when they come together.

    A flip waits for the transaction that holds it to commit (group commit): one flip
    alone costs one transaction, as before, and a burst (every monitor's first PENDING -> UP
    at start-up, a target behind 300 monitors going down) shares a few, instead of paying
    ~2 ms of CPU for a transaction of its own. The writer is a task of its own, so a caller
    cancelled while it waits neither stops the batch nor leaves the others waiting.
    """

    def __init__(self, database: Database, *, max_batch: int = 500) -> None:
        self._database = database
        self._max_batch = max_batch
        self._pending: list[tuple[Flip, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def record(self, flip: Flip) -> None:
        """Store ``flip``; return once it is committed, raise when it could not be."""
        stored = asyncio.get_running_loop().create_future()
        self._pending.append((flip, stored))
        if self._writer is None:
            self._writer = asyncio.create_task(self._write(), name="flip-writer")
        await stored

    async def aclose(self) -> None:
        """Wait until every flip handed over is written (or has failed)."""
        if self._writer is not None:
            await asyncio.shield(self._writer)

    async def _write(self) -> None:
        try:
            while self._pending:
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
                try:
                    async with self._database.session() as session:
                        await FlipRepository(session).add_many(_row(flip) for flip, _ in batch)
                except Exception as exc:  # noqa: BLE001 - each waiter gets the error
                    for _, stored in batch:
                        if not stored.done():
                            stored.set_exception(exc)
                else:
                    for _, stored in batch:
                        if not stored.done():
                            stored.set_result(None)
        finally:
            self._writer = None

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


def _row(flip: Flip) -> dict[str, Any]:
    return {
        "monitor": flip.monitor,
        "old_state": flip.old,
        "new_state": flip.new,
        "reason": flip.reason[:2000],
        "at": utc_datetime(flip.at),
    }


def _when(epoch_s: float | None) -> datetime | None:
    return None if epoch_s is None else utc_datetime(epoch_s)
