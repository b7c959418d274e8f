"""Incidents: the record, its linked alerts, its timeline and its post-mortem action items.

The timeline is append-only: this repository can add an entry and read entries, and has
no way to change or remove one. Incident numbers come from ``incident_sequences``, one
row per year bumped by a single ``INSERT .. ON CONFLICT DO UPDATE .. RETURNING`` in the
opening transaction: on PostgreSQL the row lock orders concurrent openings (each gets its
own number, and a rolled-back opening gives its number back); on SQLite writers are
serialised anyway.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from tradewarden.store._models import (
    Incident,
    IncidentActionItem,
    IncidentAlert,
    IncidentSequence,
    IncidentTimelineEntry,
)

__all__ = ["IncidentFilter", "IncidentRepository"]

RESOLVED = "resolved"
# pg_advisory_xact_lock(class, hashtext(group key)): one opening per alert group at a time.
_GROUP_LOCK_CLASS = 0x74776963  # "twic"


@dataclass(frozen=True)
class IncidentFilter:
    """Which incidents a listing returns (``opened_from`` inclusive, ``opened_to`` not)."""

    statuses: Sequence[str] = ()
    severities: Sequence[str] = ()
    opened_from: datetime | None = None
    opened_to: datetime | None = None


class IncidentRepository:
    """Queries of incidents and their alerts, timeline and action items."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    # -- incidents -------------------------------------------------------------------

    async def next_number(self, year: int) -> int:
        """Take the next incident number of ``year`` (in the caller's transaction)."""
        dialect = self._session.get_bind().dialect.name
        module: Any = postgresql if dialect == "postgresql" else sqlite
        table = IncidentSequence.__table__
        statement = module.insert(table).values(year=year, last=1)
        statement = statement.on_conflict_do_update(
            index_elements=["year"], set_={"last": table.c.last + 1}
        ).returning(table.c.last)
        number: int = (await self._session.execute(statement)).scalar_one()
        return number

    async def add(self, **values: Any) -> Incident:
        """Store a new incident."""
        row = Incident(**values)
        self._session.add(row)
        await self._session.flush()
        return row

    async def get(self, public_id: str, *, for_update: bool = False) -> Incident | None:
        """Return the incident ``public_id`` (locked for the transaction with ``for_update``)."""
        query = select(Incident).where(Incident.public_id == public_id)
        if for_update:
            query = query.with_for_update()
        result: Incident | None = await self._session.scalar(
            query.execution_options(populate_existing=True)
        )
        return result

    async def lock_group(self, group_key: str) -> None:
        """Hold, until the transaction ends, the right to open an incident for
        ``group_key``: two instances flushing one group open one incident (PostgreSQL;
        SQLite's writers take turns anyway)."""
        if self._session.get_bind().dialect.name != "postgresql":
            return
        await self._session.execute(
            text("SELECT pg_advisory_xact_lock(:class, hashtext(:key))"),
            {"class": _GROUP_LOCK_CLASS, "key": group_key},
        )

    async def open_for_group(self, group_key: str, *, for_update: bool = False) -> Incident | None:
        """Return the newest incident of ``group_key`` that is not resolved."""
        query = (
            select(Incident)
            .where(Incident.group_key == group_key, Incident.status != RESOLVED)
            .order_by(Incident.id.desc())
            .limit(1)
        )
        if for_update:
            query = query.with_for_update()
        result: Incident | None = await self._session.scalar(
            query.execution_options(populate_existing=True)
        )
        return result

    async def open_incidents(self) -> list[Incident]:
        """Return every incident not resolved, oldest first."""
        query = select(Incident).where(Incident.status != RESOLVED).order_by(Incident.id)
        return list(await self._session.scalars(query))

    async def page(
        self, where: IncidentFilter, *, limit: int = 50, offset: int = 0
    ) -> tuple[list[Incident], int]:
        """Return a page of incidents, newest first, and how many match in all."""
        conditions: list[Any] = []
        if where.statuses:
            conditions.append(Incident.status.in_(list(where.statuses)))
        if where.severities:
            conditions.append(Incident.severity.in_(list(where.severities)))
        if where.opened_from is not None:
            conditions.append(Incident.created_at >= where.opened_from)
        if where.opened_to is not None:
            conditions.append(Incident.created_at < where.opened_to)
        total = await self._session.scalar(
            select(func.count()).select_from(Incident).where(*conditions)
        )
        query = (
            select(Incident)
            .where(*conditions)
            .order_by(Incident.created_at.desc(), Incident.id.desc())
            .limit(limit)
            .offset(offset)
        )
        return list(await self._session.scalars(query)), int(total or 0)

    # -- alerts ----------------------------------------------------------------------

    async def alerts(self, incident_id: int) -> list[IncidentAlert]:
        """Return the incident's alerts in the order they joined."""
        query = (
            select(IncidentAlert)
            .where(IncidentAlert.incident_id == incident_id)
            .order_by(IncidentAlert.id)
        )
        return list(await self._session.scalars(query))

    async def link_alert(self, incident_id: int, **values: Any) -> IncidentAlert:
        """Link an alert to the incident."""
        row = IncidentAlert(incident_id=incident_id, **values)
        self._session.add(row)
        await self._session.flush()
        return row

    # -- timeline (append-only) --------------------------------------------------------

    async def append(
        self,
        incident_id: int,
        *,
        at: datetime,
        kind: str,
        actor: str,
        text: str,
        data: dict[str, Any] | None = None,
    ) -> IncidentTimelineEntry:
        """Append one entry to the incident's timeline."""
        row = IncidentTimelineEntry(
            incident_id=incident_id, at=at, kind=kind, actor=actor, text=text, data=data or {}
        )
        self._session.add(row)
        await self._session.flush()
        return row

    async def timeline(self, incident_id: int) -> list[IncidentTimelineEntry]:
        """Return the incident's timeline in time order (entries of one time as written:
        concurrent writers, the diagnosis and the escalator, may commit out of order)."""
        query = (
            select(IncidentTimelineEntry)
            .where(IncidentTimelineEntry.incident_id == incident_id)
            .order_by(IncidentTimelineEntry.at, IncidentTimelineEntry.id)
        )
        return list(await self._session.scalars(query))

    # -- action items ----------------------------------------------------------------

    async def action_items(self, incident_id: int) -> list[IncidentActionItem]:
        """Return the incident's action items by number."""
        query = (
            select(IncidentActionItem)
            .where(IncidentActionItem.incident_id == incident_id)
            .order_by(IncidentActionItem.number)
        )
        return list(await self._session.scalars(query))

    async def add_action_item(self, incident_id: int, **values: Any) -> IncidentActionItem:
        """Store an action item numbered after the incident's last (lock the incident first)."""
        last = await self._session.scalar(
            select(func.max(IncidentActionItem.number)).where(
                IncidentActionItem.incident_id == incident_id
            )
        )
        row = IncidentActionItem(incident_id=incident_id, number=int(last or 0) + 1, **values)
        self._session.add(row)
        await self._session.flush()
        return row

    async def action_item(self, incident_id: int, number: int) -> IncidentActionItem | None:
        """Return action item ``number`` of the incident."""
        result: IncidentActionItem | None = await self._session.scalar(
            select(IncidentActionItem).where(
                IncidentActionItem.incident_id == incident_id,
                IncidentActionItem.number == number,
            )
        )
        return result
