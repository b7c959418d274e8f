"""Escalations (one row per alert key, deadlines stored) and on-call overrides.

An escalation row holds the policy as it was opened, the next step, the round and when
that step is due, so any instance resumes it after a restart. A step is fired by a
conditional UPDATE that re-checks the state it was decided on (status, step, round,
due time): two instances deciding the same step write it once, and an acknowledgement
that lands first wins.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, Text, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from tradewarden.store._models import Base, UtcDateTime

__all__ = ["Escalation", "EscalationRepository", "OnCallOverride", "OverrideRepository"]

OPEN = "open"


class Escalation(Base):
    """The escalation of one alert key (``generation`` grows when it fires again after a
    resolve)."""

    __tablename__ = "escalations"
    __table_args__ = (Index("ix_escalations_status_due_at", "status", "due_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(400), unique=True)
    generation: Mapped[int] = mapped_column(Integer, default=0)
    policy_name: Mapped[str] = mapped_column(String(100))
    policy: Mapped[dict[str, Any]] = mapped_column(JSON)
    message: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))
    step: Mapped[int] = mapped_column(Integer, default=0)
    round: Mapped[int] = mapped_column(Integer, default=0)
    fired: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    notified: Mapped[list[str]] = mapped_column(JSON)  # channels paged so far
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_fired_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    acknowledged_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    ack_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class OnCallOverride(Base):
    """``replacement`` stands in for ``replaces`` from ``starts_at`` to ``ends_at``."""

    __tablename__ = "oncall_overrides"
    __table_args__ = (Index("ix_oncall_overrides_schedule_ends_at", "schedule", "ends_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    schedule: Mapped[str] = mapped_column(String(100))
    layer: Mapped[str | None] = mapped_column(String(100), nullable=True)
    replaces: Mapped[str] = mapped_column(String(100))
    replacement: Mapped[str] = mapped_column(String(100))
    starts_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ends_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_by: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)


class EscalationRepository:
    """Queries of the escalations."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def insert_if_new(self, row: dict[str, Any]) -> None:
        """Insert ``row`` unless its key exists (another instance opened it first)."""
        dialect = self._session.get_bind().dialect.name
        module: Any = postgresql if dialect == "postgresql" else sqlite
        statement = module.insert(Escalation).values(row)
        await self._session.execute(statement.on_conflict_do_nothing(index_elements=["key"]))

    async def get(self, key: str, *, for_update: bool = False) -> Escalation | None:
        """Return the escalation of ``key``."""
        query = select(Escalation).where(Escalation.key == key)
        if for_update:
            query = query.with_for_update()
        result: Escalation | None = await self._session.scalar(
            query.execution_options(populate_existing=True)
        )
        return result

    async def due(self, now: datetime, limit: int) -> list[Escalation]:
        """Return open escalations whose step is due, earliest first."""
        query = (
            select(Escalation)
            .where(Escalation.status == OPEN, Escalation.due_at <= now)
            .order_by(Escalation.due_at)
            .limit(limit)
        )
        return list(await self._session.scalars(query))

    async def next_due(self) -> datetime | None:
        """Return when the earliest open step is due."""
        value: datetime | None = await self._session.scalar(
            select(func.min(Escalation.due_at)).where(Escalation.status == OPEN)
        )
        return value

    async def advance(self, decided_on: Escalation, **values: Any) -> bool:
        """Write ``values`` if the row is still as it was when the step was decided on;
        return False when another instance or an acknowledgement changed it first."""
        result = await self._session.execute(
            update(Escalation)
            .where(
                Escalation.id == decided_on.id,
                Escalation.status == OPEN,
                Escalation.generation == decided_on.generation,
                Escalation.step == decided_on.step,
                Escalation.round == decided_on.round,
                Escalation.fired == decided_on.fired,
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0))

    async def set_status(
        self, key: str, *, from_statuses: Sequence[str], read_generation: int, **values: Any
    ) -> bool:
        """Change the row of ``key`` if its status is one of ``from_statuses`` (and its
        generation ``read_generation``); return whether it changed."""
        result = await self._session.execute(
            update(Escalation)
            .where(
                Escalation.key == key,
                Escalation.status.in_(list(from_statuses)),
                Escalation.generation == read_generation,
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0))

    async def list(
        self, *, statuses: Sequence[str] | None = None, limit: int = 100
    ) -> list[Escalation]:
        """Return escalations, most recently changed first."""
        query = select(Escalation).order_by(Escalation.updated_at.desc(), Escalation.id.desc())
        if statuses is not None:
            query = query.where(Escalation.status.in_(list(statuses)))
        return list(await self._session.scalars(query.limit(limit)))


class OverrideRepository:
    """Queries of the on-call overrides."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, **values: Any) -> OnCallOverride:
        """Store one override."""
        row = OnCallOverride(**values)
        self._session.add(row)
        await self._session.flush()
        return row

    async def active(self, now: datetime, schedule: str | None = None) -> list[OnCallOverride]:
        """Return the overrides not yet over at ``now``, oldest first."""
        query = select(OnCallOverride).where(OnCallOverride.ends_at > now)
        if schedule is not None:
            query = query.where(OnCallOverride.schedule == schedule)
        return list(await self._session.scalars(query.order_by(OnCallOverride.id)))

    async def get(self, override_id: int) -> OnCallOverride | None:
        """Return one override."""
        return await self._session.get(OnCallOverride, override_id)

    async def delete(self, override_id: int) -> bool:
        """Remove one override; return whether it existed."""
        row = await self._session.get(OnCallOverride, override_id)
        if row is None:
            return False
        await self._session.delete(row)
        await self._session.flush()
        return True
