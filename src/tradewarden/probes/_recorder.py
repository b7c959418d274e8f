"""Flips made durable in the store (the FlipRecorder of the running warden)."""

from __future__ import annotations

from typing import cast

from tradewarden.clock import utc_datetime
from tradewarden.probes._model import MonitorState
from tradewarden.probes._ports import Flip
from tradewarden.store import Database, FlipRepository

__all__ = ["StoreFlipRecorder"]


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
