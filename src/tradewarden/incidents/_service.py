"""The incident service: open, acknowledge, annotate, move and resolve incidents.

Every write takes the caller's session, so the change, its timeline entries and the
caller's audit row commit together (the API), or with the dispatcher's flush (alerts,
see ``_alerts.py``). Every change is on the timeline: the record says what is true now,
the timeline how it got there. Reads go through ``detail`` and ``list``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from tradewarden.clock import Clock, utc_datetime
from tradewarden.errors import ConflictError, NotFoundError
from tradewarden.incidents._config import IncidentsConfig
from tradewarden.incidents._diagnosis import Diagnosis, DiagnosisRunner
from tradewarden.incidents._model import (
    Impact,
    Kind,
    Status,
    TransitionError,
    check_transition,
    public_id,
)
from tradewarden.incidents._report import render_report
from tradewarden.notify import Severity
from tradewarden.store import (
    Database,
    Incident,
    IncidentActionItem,
    IncidentAlert,
    IncidentFilter,
    IncidentRepository,
    IncidentTimelineEntry,
)

__all__ = ["SYSTEM_ACTOR", "EscalationPort", "IncidentDetail", "IncidentService"]

SYSTEM_ACTOR = "tradewarden"
EDITABLE = frozenset(
    {
        "title",
        "severity",
        "commander",
        "services",
        "bots",
        "impact",
        "impact_started_at",
        "root_cause",
        "resolution",
        "lessons_learned",
        "false_positive",
    }
)
ACTION_ITEM_FIELDS = frozenset({"title", "owner", "due_date", "status"})


class EscalationPort(Protocol):
    """``Escalator.acknowledge``: stop paging for an alert group."""

    async def acknowledge(
        self, key: str, *, by: str, reason: str | None, session: AsyncSession | None = None
    ) -> Any:
        """Acknowledge the escalation of ``key`` (NotFoundError, ConflictError)."""
        ...


@dataclass(frozen=True)
class IncidentDetail:
    """An incident with everything attached to it."""

    incident: Incident
    alerts: list[IncidentAlert]
    timeline: list[IncidentTimelineEntry]
    action_items: list[IncidentActionItem]


def _json(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


class IncidentService:
    """Incidents in the store (see the module's docstring)."""

    def __init__(
        self,
        database: Database,
        clock: Clock,
        config: IncidentsConfig | None = None,
        *,
        escalation: EscalationPort | None = None,
        diagnosis: Diagnosis | None = None,
    ) -> None:
        self.database = database
        self.clock = clock
        self.config = config or IncidentsConfig()
        self.escalation = escalation
        self.diagnoses = DiagnosisRunner(
            database, clock, diagnosis, limit=self.config.max_concurrent_diagnoses
        )

    def now(self) -> datetime:
        """Return the clock's time as an aware datetime."""
        return utc_datetime(self.clock.now())

    async def close(self) -> None:
        """Cancel the diagnoses still running."""
        await self.diagnoses.close()

    # -- reads -----------------------------------------------------------------------

    async def get(
        self, session: AsyncSession, incident_id: str, *, for_update: bool = False
    ) -> Incident:
        """Return the incident ``incident_id`` (``INC-2026-0042``) or raise NotFoundError."""
        row = await IncidentRepository(session).get(incident_id, for_update=for_update)
        if row is None:
            raise NotFoundError(f"no incident {incident_id!r}")
        return row

    async def detail(self, session: AsyncSession, incident_id: str) -> IncidentDetail:
        """Return the incident with its alerts, timeline and action items."""
        incident = await self.get(session, incident_id)
        repo = IncidentRepository(session)
        return IncidentDetail(
            incident=incident,
            alerts=await repo.alerts(incident.id),
            timeline=await repo.timeline(incident.id),
            action_items=await repo.action_items(incident.id),
        )

    async def list(
        self, session: AsyncSession, where: IncidentFilter, *, limit: int = 50, offset: int = 0
    ) -> tuple[list[Incident], int]:
        """Return a page of incidents (newest first) and the number that match."""
        return await IncidentRepository(session).page(where, limit=limit, offset=offset)

    async def report(self, session: AsyncSession, incident_id: str) -> str:
        """Return the incident report in Markdown."""
        found = await self.detail(session, incident_id)
        return render_report(found.incident, found.timeline, found.alerts, found.action_items)

    # -- writes ----------------------------------------------------------------------

    async def append(
        self,
        session: AsyncSession,
        incident: Incident,
        kind: Kind,
        text: str,
        *,
        actor: str,
        data: dict[str, Any] | None = None,
        at: datetime | None = None,
    ) -> IncidentTimelineEntry:
        """Append an entry to the incident's timeline."""
        return await IncidentRepository(session).append(
            incident.id,
            at=at or self.now(),
            kind=kind.value,
            actor=actor[:200],
            text=text,
            data=data,
        )

    async def open(
        self,
        session: AsyncSession,
        *,
        title: str,
        severity: Severity,
        by: str,
        services: Sequence[str] = (),
        bots: Sequence[str] = (),
        impact: Impact | None = None,
        commander: str | None = None,
        group_key: str | None = None,
        impact_started_at: datetime | None = None,
        detected_at: datetime | None = None,
        reason: str | None = None,
        diagnose: tuple[Mapping[str, str], Mapping[str, str]] | None = None,
    ) -> Incident:
        """Open an incident (numbered in this transaction); with ``diagnose`` (an alert's
        labels and annotations), run its runbook once the transaction commits.

        By hand, ``detected_at`` is now and ``impact_started_at`` defaults to it.
        """
        now = self.now()
        repo = IncidentRepository(session)
        detected = detected_at or now
        number = await repo.next_number(now.year)
        incident = await repo.add(
            public_id=public_id(now.year, number),
            title=title[:300],
            severity=severity.value,
            status=Status.INVESTIGATING.value,
            commander=commander,
            services=list(dict.fromkeys(services)),
            bots=list(dict.fromkeys(bots)),
            impact=(impact or Impact()).model_dump(mode="json"),
            group_key=group_key,
            impact_started_at=impact_started_at or detected,
            detected_at=detected,
            false_positive=False,
            created_by=by[:200],
            created_at=now,
            updated_at=now,
        )
        source = f"alert group {group_key}" if group_key else "by hand"
        await self.append(
            session,
            incident,
            Kind.OPENED,
            f"{incident.public_id} opened ({severity.value}, {source}): {title}",
            actor=by,
            data={"severity": severity.value, "group_key": group_key, "reason": reason},
            at=now,
        )
        if diagnose is not None:
            self.diagnoses.after_commit(session, incident.id, *diagnose)
        return incident

    async def note(self, session: AsyncSession, incident_id: str, text: str, *, by: str) -> Any:
        """Add a note to the timeline; return the entry."""
        incident = await self.get(session, incident_id, for_update=True)
        incident.updated_at = self.now()
        return await self.append(session, incident, Kind.NOTE, text, actor=by)

    async def set_status(
        self,
        session: AsyncSession,
        incident_id: str,
        status: Status,
        *,
        by: str,
        reason: str | None = None,
    ) -> Incident:
        """Move the incident (TransitionError when it may not); ``resolved`` resolves it
        with ``reason`` as the resolution. Reaching ``monitoring`` marks it mitigated."""
        if status is Status.RESOLVED:
            return await self.resolve(session, incident_id, by=by, resolution=reason)
        incident = await self.get(session, incident_id, for_update=True)
        await self.move(session, incident, status, by=by, reason=reason)
        return incident

    async def move(
        self,
        session: AsyncSession,
        incident: Incident,
        status: Status,
        *,
        by: str,
        reason: str | None = None,
    ) -> None:
        """Move a loaded incident to an open status and write it on the timeline."""
        old = Status(incident.status)
        check_transition(old, status)
        now = self.now()
        incident.status = status.value
        incident.updated_at = now
        if status is Status.MONITORING and incident.mitigated_at is None:
            incident.mitigated_at = now
        text = f"status {old.value} → {status.value}" + (f": {reason}" if reason else "")
        await self.append(
            session,
            incident,
            Kind.STATUS_CHANGED,
            text,
            actor=by,
            data={"from": old.value, "to": status.value, "reason": reason},
            at=now,
        )

    async def resolve(
        self, session: AsyncSession, incident_id: str, *, by: str, resolution: str | None
    ) -> Incident:
        """Resolve the incident (final); ``resolution`` says what fixed it."""
        incident = await self.get(session, incident_id, for_update=True)
        check_transition(Status(incident.status), Status.RESOLVED)
        now = self.now()
        old = incident.status
        incident.status = Status.RESOLVED.value
        incident.resolved_at = now
        incident.resolved_by = by[:200]
        if resolution:
            incident.resolution = resolution
        if incident.mitigated_at is None:
            incident.mitigated_at = now
        incident.updated_at = now
        await self.append(
            session,
            incident,
            Kind.RESOLVED,
            f"resolved by {by}" + (f": {resolution}" if resolution else ""),
            actor=by,
            data={"from": old, "resolution": resolution},
            at=now,
        )
        return incident

    async def acknowledge(
        self, session: AsyncSession, incident_id: str, *, by: str, reason: str | None
    ) -> tuple[Incident, bool]:
        """Acknowledge the incident and the escalation of its alert group (paging stops);
        return the incident and whether this call changed it."""
        incident = await self.get(session, incident_id, for_update=True)
        if incident.status == Status.RESOLVED.value:
            raise TransitionError("the incident is resolved: nothing to acknowledge")
        if incident.acknowledged_at is not None:
            return incident, False
        await self.mark_acknowledged(session, incident, by=by, reason=reason, via="incident")
        if self.escalation is not None and incident.group_key:
            # No escalation (never paged) or a resolved one: nothing more to stop.
            with contextlib.suppress(NotFoundError, ConflictError):
                await self.escalation.acknowledge(
                    incident.group_key, by=by, reason=reason, session=session
                )
        return incident, True

    async def mark_acknowledged(
        self,
        session: AsyncSession,
        incident: Incident,
        *,
        by: str,
        reason: str | None,
        via: str,
    ) -> None:
        """Set the acknowledgement of a loaded incident and write it on the timeline."""
        now = self.now()
        incident.acknowledged_at = now
        incident.acknowledged_by = by[:200]
        incident.updated_at = now
        await self.append(
            session,
            incident,
            Kind.ACKNOWLEDGED,
            f"acknowledged by {by}" + (f": {reason}" if reason else ""),
            actor=by,
            data={"via": via, "reason": reason},
            at=now,
        )

    async def update(
        self,
        session: AsyncSession,
        incident_id: str,
        changes: Mapping[str, Any],
        *,
        by: str,
        reason: str | None = None,
    ) -> Incident:
        """Change fields of the record (one ``field_changed`` entry per changed field)."""
        unknown = sorted(set(changes) - EDITABLE)
        if unknown:
            raise ValueError(f"{unknown[0]}: not a field that can be changed")
        incident = await self.get(session, incident_id, for_update=True)
        now = self.now()
        for name, raw in changes.items():
            value: Any = raw
            if isinstance(raw, Severity):
                value = raw.value
            elif isinstance(raw, Impact):
                value = raw.model_dump(mode="json")
            elif name in {"services", "bots"}:
                value = list(dict.fromkeys(raw))
            old = getattr(incident, name)
            if old == value:
                continue
            setattr(incident, name, value)
            await self.append(
                session,
                incident,
                Kind.FIELD_CHANGED,
                f"{name} changed",
                actor=by,
                data={"field": name, "old": _json(old), "new": _json(value), "reason": reason},
                at=now,
            )
        incident.updated_at = now
        return incident

    async def add_action_item(
        self,
        session: AsyncSession,
        incident_id: str,
        *,
        title: str,
        owner: str | None,
        due_date: date | None,
        by: str,
    ) -> IncidentActionItem:
        """Add a post-mortem action item (status ``open``)."""
        incident = await self.get(session, incident_id, for_update=True)
        now = self.now()
        item = await IncidentRepository(session).add_action_item(
            incident.id,
            title=title,
            owner=owner,
            due_date=due_date,
            status="open",
            created_by=by[:200],
            created_at=now,
            updated_at=now,
        )
        incident.updated_at = now
        await self.append(
            session,
            incident,
            Kind.FIELD_CHANGED,
            f"action item {item.number} added: {title}",
            actor=by,
            data={
                "field": "action_items",
                "number": item.number,
                "new": {"title": title, "owner": owner, "due_date": _json(due_date)},
            },
            at=now,
        )
        return item

    async def update_action_item(
        self,
        session: AsyncSession,
        incident_id: str,
        number: int,
        changes: Mapping[str, Any],
        *,
        by: str,
    ) -> IncidentActionItem:
        """Change an action item (``status: done`` marks it done)."""
        unknown = sorted(set(changes) - ACTION_ITEM_FIELDS)
        if unknown:
            raise ValueError(f"{unknown[0]}: not a field of an action item")
        incident = await self.get(session, incident_id, for_update=True)
        item = await IncidentRepository(session).action_item(incident.id, number)
        if item is None:
            raise NotFoundError(f"incident {incident_id} has no action item {number}")
        now = self.now()
        changed = {k: v for k, v in changes.items() if getattr(item, k) != v}
        old = {k: _json(getattr(item, k)) for k in changed}
        for name, value in changed.items():
            setattr(item, name, value)
        if changed:
            item.updated_at = now
            incident.updated_at = now
            await self.append(
                session,
                incident,
                Kind.FIELD_CHANGED,
                f"action item {number} changed: {', '.join(sorted(changed))}",
                actor=by,
                data={
                    "field": "action_items",
                    "number": number,
                    "old": old,
                    "new": {k: _json(v) for k, v in changed.items()},
                },
                at=now,
            )
        return item

    async def record_control(
        self,
        session: AsyncSession,
        *,
        action: str,
        target: str | None,
        by: str,
        reason: str | None,
        details: Mapping[str, Any] | None = None,
    ) -> tuple[str, ...]:
        """Write a control action (kill switch, breaker) on every open incident's timeline;
        return their ids."""
        text = f"{action} {target or ''}".rstrip() + (f": {reason}" if reason else "")
        data = {"action": action, "target": target, "reason": reason, **dict(details or {})}
        now = self.now()
        incidents = await IncidentRepository(session).open_incidents()
        for incident in incidents:
            await self.append(session, incident, Kind.CONTROL, text, actor=by, data=data, at=now)
        return tuple(incident.public_id for incident in incidents)
