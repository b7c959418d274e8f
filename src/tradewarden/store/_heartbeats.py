"""Queries on heartbeat state."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tradewarden.store._models import HeartbeatState

__all__ = ["HeartbeatRepository"]


class HeartbeatRepository:
    """Read and write the last ping of each heartbeat."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def all(self) -> list[HeartbeatState]:
        """Return every heartbeat's state."""
        return list(await self._session.scalars(select(HeartbeatState)))

    async def get_for_update(self, name: str) -> HeartbeatState:
        """Return the state of ``name``, creating an empty one when there is none."""
        row = await self._session.get(HeartbeatState, name, with_for_update=True)
        if row is None:
            row = HeartbeatState(name=name, pings_total=0)
            self._session.add(row)
        return row
