"""Queries on monitors created over the API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tradewarden.errors import ConflictError
from tradewarden.store._models import MonitorDefinition

__all__ = ["MonitorRepository"]


class MonitorRepository:
    """Create, read, replace and delete stored monitor specs."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def all(self) -> list[MonitorDefinition]:
        """Return every stored monitor, by name."""
        query = select(MonitorDefinition).order_by(MonitorDefinition.name)
        return list(await self._session.scalars(query))

    async def versions(self) -> dict[str, datetime]:
        """Return when each stored monitor last changed (no specs: cheap to poll)."""
        query = select(MonitorDefinition.name, MonitorDefinition.updated_at)
        rows = await self._session.execute(query)
        return {row.name: row.updated_at for row in rows}

    async def get(self, name: str, *, for_update: bool = False) -> MonitorDefinition | None:
        """Return the monitor named ``name``; ``for_update`` locks its row until commit."""
        return await self._session.get(MonitorDefinition, name, with_for_update=for_update)

    async def add(
        self, *, name: str, kind: str, spec: dict[str, Any], by: str, now: datetime
    ) -> MonitorDefinition:
        """Insert a monitor; raise ConflictError when the name is taken."""
        row = MonitorDefinition(
            name=name,
            kind=kind,
            spec=spec,
            created_at=now,
            created_by=by,
            updated_at=now,
            updated_by=by,
        )
        try:
            # A savepoint: a lost race leaves the caller's transaction usable.
            async with self._session.begin_nested():
                self._session.add(row)
        except IntegrityError as exc:
            raise ConflictError(f"monitor {name!r} already exists") from exc
        return row

    async def replace(
        self, row: MonitorDefinition, *, kind: str, spec: dict[str, Any], by: str, now: datetime
    ) -> MonitorDefinition:
        """Replace the spec of a stored monitor."""
        row.kind = kind
        row.spec = spec
        row.updated_at = now
        row.updated_by = by
        await self._session.flush()
        return row

    async def delete(self, row: MonitorDefinition) -> None:
        """Delete a stored monitor."""
        await self._session.delete(row)
        await self._session.flush()
