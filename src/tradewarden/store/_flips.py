"""Queries on monitor flips."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from tradewarden.store._models import MonitorFlip

__all__ = ["FlipRepository"]


class FlipRepository:
    """Append and read monitor state changes."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add_many(self, rows: Iterable[dict[str, Any]]) -> int:
        """Write flips given as ``monitor, old_state, new_state, reason, at`` mappings in one
        statement; return how many."""
        batch = list(rows)
        if batch:
            await self._session.execute(insert(MonitorFlip), batch)
        return len(batch)

    async def list(
        self, *, monitor: str | None = None, limit: int = 100, before_id: int | None = None
    ) -> list[MonitorFlip]:
        """Return flips newest first, optionally of one monitor; page with ``before_id``."""
        query = select(MonitorFlip).order_by(MonitorFlip.id.desc()).limit(limit)
        if monitor is not None:
            query = query.where(MonitorFlip.monitor == monitor)
        if before_id is not None:
            query = query.where(MonitorFlip.id < before_id)
        return list(await self._session.scalars(query))

    async def latest_states(self) -> dict[str, str]:
        """Return each monitor's state after its newest flip."""
        newest = (
            select(func.max(MonitorFlip.id).label("id")).group_by(MonitorFlip.monitor).subquery()
        )
        rows = await self._session.execute(
            select(MonitorFlip.monitor, MonitorFlip.new_state).join(
                newest, MonitorFlip.id == newest.c.id
            )
        )
        return {str(monitor): str(state) for monitor, state in rows}
