"""The notification outbox: a row per notification before it is sent, a row per attempt.

Workers of any warden instance claim due rows with a conditional UPDATE (a claim token
and a lease); the row is the truth about what was delivered, retried or given up.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    and_,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from tradewarden.store._models import Base, UtcDateTime

__all__ = [
    "DUE_STATES",
    "Notification",
    "NotificationAttempt",
    "NotificationRepository",
]

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
DUE_STATES = (PENDING,)


class Notification(Base):
    """One message for one channel; ``key`` makes a repeated enqueue a no-op."""

    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_state_next_attempt_at", "state", "next_attempt_at"),
        Index("ix_notifications_fingerprint", "fingerprint"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(400), unique=True)
    channel: Mapped[str] = mapped_column(String(100))
    fingerprint: Mapped[str] = mapped_column(String(200))
    event: Mapped[str] = mapped_column(String(16))
    severity: Mapped[str] = mapped_column(String(4))
    title: Mapped[str] = mapped_column(String(500))
    message: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime)
    deadline_at: Mapped[datetime] = mapped_column(UtcDateTime)
    claim_token: Mapped[str | None] = mapped_column(String(32), nullable=True)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    failed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    fallback_of: Mapped[int | None] = mapped_column(
        ForeignKey("notifications.id", ondelete="SET NULL"), nullable=True
    )


class NotificationAttempt(Base):
    """One try at delivering a notification: when, how long, how it ended (redacted)."""

    __tablename__ = "notification_attempts"
    __table_args__ = (
        Index("ix_notification_attempts_notification_id", "notification_id", "number"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notification_id: Mapped[int] = mapped_column(ForeignKey("notifications.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    duration_ms: Mapped[float] = mapped_column(Float)
    outcome: Mapped[str] = mapped_column(String(16))
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)


class NotificationRepository:
    """Queries of the outbox."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def insert_new(self, rows: Sequence[dict[str, Any]]) -> dict[str, int]:
        """Insert rows whose ``key`` is new (others are left as they are); return the id of
        every given key."""
        if not rows:
            return {}
        dialect = self._session.get_bind().dialect.name
        if dialect == "postgresql":
            statement: Any = postgresql.insert(Notification).values(list(rows))
        else:
            statement = sqlite.insert(Notification).values(list(rows))
        await self._session.execute(statement.on_conflict_do_nothing(index_elements=["key"]))
        keys = [row["key"] for row in rows]
        found = await self._session.execute(
            select(Notification.key, Notification.id).where(Notification.key.in_(keys))
        )
        return {str(key): int(id_) for key, id_ in found}

    async def claim(
        self, *, token: str, now: datetime, lease_until: datetime, limit: int
    ) -> list[Notification]:
        """Claim up to ``limit`` due rows nobody holds (or whose lease ran out) for
        ``token``; return them. Two workers never get the same row: the UPDATE re-checks."""
        free = or_(Notification.claim_token.is_(None), Notification.lease_expires_at < now)
        due = and_(Notification.state == PENDING, Notification.next_attempt_at <= now, free)
        # PostgreSQL: rows another worker is claiming are skipped, not waited for (SQLite
        # has no row locks; its writers take turns). The UPDATE re-checks either way.
        candidates = (
            select(Notification.id)
            .where(due)
            .order_by(Notification.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        ids = list(await self._session.scalars(candidates))
        if not ids:
            return []
        await self._session.execute(
            update(Notification)
            .where(Notification.id.in_(ids), due)
            .values(claim_token=token, lease_expires_at=lease_until)
            .execution_options(synchronize_session=False)
        )
        claimed = await self._session.scalars(
            select(Notification)
            .where(Notification.claim_token == token, Notification.id.in_(ids))
            .execution_options(populate_existing=True)
        )
        return list(claimed)

    async def renew(self, *, token: str, lease_until: datetime) -> int:
        """Extend the lease of the rows ``token`` still holds; return how many."""
        result = await self._session.execute(
            update(Notification)
            .where(Notification.claim_token == token)
            .values(lease_expires_at=lease_until)
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def next_due(self) -> datetime | None:
        """Return when the earliest pending row is due (None when none is pending)."""
        query = select(func.min(Notification.next_attempt_at)).where(Notification.state == PENDING)
        value: datetime | None = await self._session.scalar(query)
        return value

    async def finish(self, notification_id: int, token: str, **values: Any) -> bool:
        """Write an attempt's result to a row this claim still holds (releasing it);
        return False when the claim was lost (the lease ran out and another took it)."""
        result = await self._session.execute(
            update(Notification)
            .where(Notification.id == notification_id, Notification.claim_token == token)
            .values(claim_token=None, lease_expires_at=None, **values)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0))

    async def add_attempt(self, **values: Any) -> None:
        """Record one attempt."""
        self._session.add(NotificationAttempt(**values))
        await self._session.flush()

    async def get(self, notification_id: int) -> Notification | None:
        """Return one notification."""
        return await self._session.get(Notification, notification_id)

    async def attempts(self, notification_id: int) -> list[NotificationAttempt]:
        """Return a notification's attempts, first first."""
        query = (
            select(NotificationAttempt)
            .where(NotificationAttempt.notification_id == notification_id)
            .order_by(NotificationAttempt.number, NotificationAttempt.id)
        )
        return list(await self._session.scalars(query))

    async def list(
        self,
        *,
        states: Iterable[str] | None = None,
        channel: str | None = None,
        since: datetime | None = None,
        before_id: int | None = None,
        limit: int = 100,
    ) -> list[Notification]:
        """Return notifications newest first, filtered; page with ``before_id``."""
        query = select(Notification).order_by(Notification.id.desc()).limit(limit)
        if states is not None:
            query = query.where(Notification.state.in_(list(states)))
        if channel is not None:
            query = query.where(Notification.channel == channel)
        if since is not None:
            query = query.where(Notification.created_at >= since)
        if before_id is not None:
            query = query.where(Notification.id < before_id)
        return list(await self._session.scalars(query))

    async def requeue(
        self, notification_id: int, *, now: datetime, deadline: datetime
    ) -> Notification | None:
        """Make a notification due again now, with a new deadline (an operator's retry)."""
        row = await self._session.get(Notification, notification_id, with_for_update=True)
        if row is None:
            return None
        row.state = PENDING
        row.next_attempt_at = now
        row.deadline_at = deadline
        row.claim_token = None
        row.lease_expires_at = None
        row.failed_at = None
        await self._session.flush()
        return row
