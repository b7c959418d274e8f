"""The alerting side's tables: alerts as last reported, silences (kept after they expire)
and aggregation groups with their next flush, so a restart resumes where it stopped."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, Text, delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from tradewarden.store._bulk import Upsert, upsert_statement
from tradewarden.store._models import Base, UtcDateTime

__all__ = [
    "AlertGroupRow",
    "AlertRow",
    "AlertingRepository",
    "SilenceRow",
    "alert_upsert",
    "group_upsert",
]


class AlertRow(Base):
    """An alert as last reported, by fingerprint."""

    __tablename__ = "alerts"
    __table_args__ = (Index("ix_alerts_ends_at", "ends_at"),)

    fingerprint: Mapped[str] = mapped_column(String(32), primary_key=True)
    labels: Mapped[dict[str, str]] = mapped_column(JSON)
    annotations: Mapped[dict[str, str]] = mapped_column(JSON)
    starts_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ends_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    generator_url: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(16))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class SilenceRow(Base):
    """A silence; an expired one stays for history."""

    __tablename__ = "silences"
    __table_args__ = (Index("ix_silences_ends_at", "ends_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    matchers: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    starts_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ends_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_by: Mapped[str] = mapped_column(String(200))
    comment: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class AlertGroupRow(Base):
    """An aggregation group: its route, labels, what was last notified and the next flush."""

    __tablename__ = "alert_groups"
    __table_args__ = (Index("ix_alert_groups_next_flush_at", "next_flush_at"),)

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    route_id: Mapped[str] = mapped_column(String(200))
    labels: Mapped[dict[str, str]] = mapped_column(JSON)
    # fingerprint -> "firing" for the alerts the last notification announced.
    notified: Mapped[dict[str, str]] = mapped_column(JSON)
    sequence: Mapped[int] = mapped_column(Integer)
    next_flush_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    last_flush_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


def alert_upsert(rows: Sequence[dict[str, Any]]) -> Upsert:
    """Return alert rows to write by fingerprint with ``Database.upsert`` (ingest's path)."""
    return Upsert(AlertRow.__table__, "fingerprint", rows)  # type: ignore[arg-type]


def group_upsert(rows: Sequence[dict[str, Any]]) -> Upsert:
    """Return group rows to write by key with ``Database.upsert``."""
    return Upsert(AlertGroupRow.__table__, "key", rows)  # type: ignore[arg-type]


class AlertingRepository:
    """Queries of the alerting tables."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def upsert_alerts(self, rows: Sequence[dict[str, Any]]) -> None:
        """Write alerts (by fingerprint), replacing what was stored."""
        await self._upsert(AlertRow, "fingerprint", rows)

    async def _upsert(self, model: type[Base], key: str, rows: Sequence[dict[str, Any]]) -> None:
        """Insert or replace ``rows`` of ``model`` by ``key``: one statement run for every
        row (executemany, one round trip), so its compiled form is cached instead of
        rebuilt per call as a multi-row VALUES would be, and no row is read first as the
        ORM's ``merge`` would."""
        if not rows:
            return
        dialect = self._session.get_bind().dialect.name
        statement = upsert_statement(model.__table__, dialect, key, tuple(rows[0]))
        await self._session.execute(statement, list(rows))

    async def alerts(self) -> list[AlertRow]:
        """Return every stored alert."""
        return list((await self._session.scalars(select(AlertRow))).all())

    async def delete_alerts(self, fingerprints: Sequence[str]) -> None:
        """Forget these alerts."""
        if fingerprints:
            await self._session.execute(
                delete(AlertRow).where(AlertRow.fingerprint.in_(list(fingerprints)))
            )

    async def add_silence(self, row: dict[str, Any]) -> SilenceRow:
        """Insert or replace a silence."""
        return await self._session.merge(SilenceRow(**row))

    async def silence(self, silence_id: str) -> SilenceRow | None:
        """Return one silence, or None."""
        return await self._session.get(SilenceRow, silence_id)

    async def silences(self) -> list[SilenceRow]:
        """Return every silence, newest first."""
        query = select(SilenceRow).order_by(SilenceRow.updated_at.desc(), SilenceRow.id)
        return list((await self._session.scalars(query)).all())

    async def groups(self) -> list[AlertGroupRow]:
        """Return every aggregation group."""
        return list((await self._session.scalars(select(AlertGroupRow))).all())

    async def put_group(self, row: dict[str, Any]) -> None:
        """Insert or replace a group's state."""
        await self.put_groups([row])

    async def put_groups(self, rows: Sequence[dict[str, Any]]) -> None:
        """Insert or replace groups' states (each row holds every column)."""
        await self._upsert(AlertGroupRow, "key", rows)

    async def delete_group(self, key: str) -> None:
        """Forget a group."""
        await self._session.execute(delete(AlertGroupRow).where(AlertGroupRow.key == key))
