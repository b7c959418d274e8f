"""The audit log: who did what, when, to what, why, and how it ended."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tradewarden.store._models import AuditEntry

__all__ = ["AuditRecord", "AuditRepository", "Outcome"]

Outcome = Literal["success", "denied", "error"]


@dataclass(frozen=True)
class AuditRecord:
    """One control or admin action, as it is written to the log."""

    actor: str
    actor_type: str
    action: str
    outcome: Outcome
    target: str | None = None
    reason: str | None = None
    details: dict[str, Any] | None = field(default=None)
    request_id: str | None = None
    source_ip: str | None = None


class AuditRepository:
    """Append to and read the audit log."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def append(self, record: AuditRecord, *, now: datetime) -> AuditEntry:
        """Write one entry."""
        entry = AuditEntry(
            at=now,
            actor=record.actor,
            actor_type=record.actor_type,
            action=record.action,
            target=record.target,
            reason=record.reason,
            outcome=record.outcome,
            details=record.details,
            request_id=record.request_id,
            source_ip=record.source_ip,
        )
        self._session.add(entry)
        await self._session.flush()
        return entry

    async def list(
        self,
        *,
        limit: int = 100,
        before_id: int | None = None,
        action: str | None = None,
        actor: str | None = None,
    ) -> list[AuditEntry]:
        """Return entries newest first, optionally filtered; page with ``before_id``."""
        query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
        if before_id is not None:
            query = query.where(AuditEntry.id < before_id)
        if action is not None:
            query = query.where(AuditEntry.action == action)
        if actor is not None:
            query = query.where(AuditEntry.actor == actor)
        return list(await self._session.scalars(query))
