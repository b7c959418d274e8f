"""The store's rows a KPI window reads, every query bounded by the window.

Read-only queries over the incidents, escalations, notifications and monitor flips
tables (their repositories live in store/; these reads are the KPIs' own and change
nothing, so they sit with the KPIs rather than widen four repositories).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tradewarden.kpis._model import (
    ActionItemRow,
    EscalationRow,
    FlipRow,
    IncidentRow,
    Window,
)
from tradewarden.store import (
    Escalation,
    Incident,
    IncidentActionItem,
    MonitorFlip,
    Notification,
)

__all__ = ["KpiReader"]

DONE = "done"
FIRING = "firing"


def _text(value: Any, default: str) -> str:
    return value if isinstance(value, str) and value else default


class KpiReader:
    """Queries for one KPI window, in the caller's (read) session."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def incidents(self, window: Window) -> list[IncidentRow]:
        """Return the incidents whose impact started in ``window``."""
        started = func.coalesce(
            Incident.impact_started_at, Incident.detected_at, Incident.created_at
        )
        query = (
            select(Incident)
            .where(started >= window.start, started < window.end)
            .order_by(Incident.id)
        )
        return [
            IncidentRow(
                public_id=row.public_id,
                title=row.title,
                severity=row.severity,
                status=row.status,
                created_at=row.created_at,
                impact_started_at=row.impact_started_at,
                detected_at=row.detected_at,
                notified_at=row.notified_at,
                acknowledged_at=row.acknowledged_at,
                resolved_at=row.resolved_at,
                false_positive=bool(row.false_positive),
                group_key=row.group_key,
            )
            for row in await self._session.scalars(query)
        ]

    async def escalations(self, window: Window) -> list[EscalationRow]:
        """Return the alert groups whose (latest) escalation opened in ``window``."""
        query = (
            select(
                Escalation.key,
                Escalation.opened_at,
                Escalation.message,
                Escalation.acknowledged_at,
                Escalation.resolved_at,
            )
            .where(Escalation.opened_at >= window.start, Escalation.opened_at < window.end)
            .order_by(Escalation.id)
        )
        rows = []
        for key, opened_at, message, acknowledged_at, resolved_at in await self._session.execute(
            query
        ):
            body = message if isinstance(message, dict) else {}
            rows.append(
                EscalationRow(
                    key=key,
                    opened_at=opened_at,
                    severity=_text(body.get("severity"), "P2"),
                    title=_text(body.get("title"), key),
                    acknowledged_at=acknowledged_at,
                    resolved_at=resolved_at,
                )
            )
        return rows

    async def flips(self, window: Window) -> list[FlipRow]:
        """Return each monitor's newest flip before ``window`` and its flips in it."""
        newest_before = (
            select(func.max(MonitorFlip.id))
            .where(MonitorFlip.at < window.start)
            .group_by(MonitorFlip.monitor)
        )
        query = (
            select(
                MonitorFlip.monitor, MonitorFlip.old_state, MonitorFlip.new_state, MonitorFlip.at
            )
            .where(
                ((MonitorFlip.at >= window.start) & (MonitorFlip.at < window.end))
                | MonitorFlip.id.in_(newest_before.scalar_subquery())
            )
            .order_by(MonitorFlip.at, MonitorFlip.id)
        )
        return [
            FlipRow(monitor=m, old_state=old, new_state=new, at=at)
            for m, old, new, at in await self._session.execute(query)
        ]

    async def notification_titles(self, window: Window) -> list[tuple[str, int]]:
        """Return (title, count) of the firing notifications created in ``window`` (not
        counting fallback copies)."""
        count = func.count(Notification.id)
        query = (
            select(Notification.title, count)
            .where(
                Notification.created_at >= window.start,
                Notification.created_at < window.end,
                Notification.event == FIRING,
                Notification.fallback_of.is_(None),
            )
            .group_by(Notification.title)
        )
        return [(str(title), int(n)) for title, n in await self._session.execute(query)]

    async def overdue_action_items(self, today: date) -> list[ActionItemRow]:
        """Return the action items not done whose due date is before ``today``."""
        query = (
            select(IncidentActionItem, Incident.public_id)
            .join(Incident, Incident.id == IncidentActionItem.incident_id)
            .where(
                IncidentActionItem.status != DONE,
                IncidentActionItem.due_date.is_not(None),
                IncidentActionItem.due_date < today,
            )
            .order_by(IncidentActionItem.due_date, Incident.public_id, IncidentActionItem.number)
        )
        return [
            ActionItemRow(
                incident=public_id,
                number=item.number,
                title=item.title,
                owner=item.owner,
                due_date=item.due_date,
                status=item.status,
            )
            for item, public_id in await self._session.execute(query)
        ]
