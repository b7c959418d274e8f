"""Incidents from alerts and escalations: the dispatcher's and the escalator's observer.

``on_flush`` runs inside the dispatcher's flush transaction (a rolled-back flush leaves
no incident and no timeline entry). A firing alert of a severity in ``open_for`` opens an
incident for its group, unless the group has one open already, which every alert of the
group then joins. Times: ``impact_started_at`` is the earliest alert ``startsAt``;
``detected_at`` the flush that first announced the group (the warden's first sight of
it firing, within ``group_wait``); ``notified_at`` the first flush that went to a
channel. Alerts resolving do not resolve the incident (a person says when it is over):
once every linked alert has resolved, an investigating or identified incident moves to
``monitoring``.

``on_acknowledged`` and ``on_step_fired`` are the escalator's hooks: an acknowledgement
of the group's escalation acknowledges its incident, a step that paged is ``escalated``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from tradewarden.alerting import Alert, severity_of
from tradewarden.clock import utc_datetime
from tradewarden.incidents._model import (
    Kind,
    Status,
    most_severe,
    services_and_bots,
)
from tradewarden.incidents._service import SYSTEM_ACTOR, IncidentService
from tradewarden.notify import Severity
from tradewarden.store import Incident, IncidentAlert, IncidentRepository

__all__ = ["IncidentObserver"]


def _title(first: Alert, count: int) -> str:
    summary = first.annotations.get("summary") or first.annotations.get("description") or ""
    name = first.name or "alert"
    title = f"{name}: {summary}" if summary else name
    return title if count <= 1 else f"{title} (+{count - 1} more)"


class IncidentObserver:
    """Open and update incidents from the dispatcher's flushes and the escalator."""

    def __init__(self, service: IncidentService) -> None:
        self.service = service

    async def on_flush(
        self,
        group_key: str,
        group_labels: dict[str, str],
        *,
        firing: Sequence[Alert],
        resolved: Sequence[Alert],
        channels: Sequence[str],
        session: AsyncSession,
    ) -> None:
        """Record a flush of ``group_key`` on its incident (opening one by policy)."""
        service, config = self.service, self.service.config
        repo = IncidentRepository(session)
        opening = (
            [a for a in firing if severity_of(a.labels) in config.open_for]
            if config.enabled
            else []
        )
        if config.enabled and opening:  # it may open one: another instance's flush waits
            await repo.lock_group(group_key)
        incident = await repo.open_for_group(group_key, for_update=True)
        now = service.now()
        linked: dict[str, IncidentAlert] | None = None
        if incident is None:
            if not config.enabled or not opening:
                return
            first = min(opening, key=lambda a: a.starts_at_ms)
            services, bots = services_and_bots([a.labels.to_dict() for a in firing])
            incident = await service.open(
                session,
                title=_title(first, len(firing)),
                severity=most_severe(severity_of(a.labels) for a in opening),
                by=SYSTEM_ACTOR,
                services=services,
                bots=bots,
                group_key=group_key,
                impact_started_at=utc_datetime(first.starts_at_ms / 1000),
                diagnose=(first.labels.to_dict(), dict(first.annotations)),
            )
            now = incident.created_at  # detected then: the flush's entries share its time
            linked = {}  # opened just now: no alert is linked yet (no query to ask)
        if linked is None:
            linked = {a.fingerprint: a for a in await repo.alerts(incident.id)}
        for alert in sorted(firing, key=lambda a: a.starts_at_ms):
            await self._fired(session, incident, linked, alert, now)
        for alert in resolved:
            link = linked.get(alert.fingerprint)
            if link is None or link.ends_at is not None:
                continue
            ended_ms = alert.ends_at_ms if alert.ends_at_ms is not None else now.timestamp() * 1000
            link.ends_at = utc_datetime(ended_ms / 1000)
            await service.append(
                session,
                incident,
                Kind.ALERT_RESOLVED,
                f"{alert.name or alert.fingerprint} resolved",
                actor=SYSTEM_ACTOR,
                data={"fingerprint": alert.fingerprint, "labels": alert.labels.to_dict()},
                at=now,
            )
        if channels:
            if incident.notified_at is None:
                incident.notified_at = now
            await service.append(
                session,
                incident,
                Kind.NOTIFIED,
                f"notified {', '.join(channels)} ({len(firing)} firing, {len(resolved)} resolved)",
                actor=SYSTEM_ACTOR,
                data={"channels": list(channels), "firing": len(firing), "resolved": len(resolved)},
                at=now,
            )
        over = linked and all(link.ends_at is not None for link in linked.values())
        if over and incident.status in {Status.INVESTIGATING.value, Status.IDENTIFIED.value}:
            await service.move(
                session,
                incident,
                Status.MONITORING,
                by=SYSTEM_ACTOR,
                reason="every alert of the incident resolved",
            )
        incident.updated_at = now

    async def _fired(
        self,
        session: AsyncSession,
        incident: Incident,
        linked: dict[str, IncidentAlert],
        alert: Alert,
        now: datetime,
    ) -> None:
        service, repo = self.service, IncidentRepository(session)
        starts = utc_datetime(alert.starts_at_ms / 1000)
        link = linked.get(alert.fingerprint)
        if link is not None and link.ends_at is None:
            return  # still firing: announced again by a repeat, nothing new
        if link is None:
            linked[alert.fingerprint] = await repo.link_alert(
                incident.id,
                fingerprint=alert.fingerprint,
                alertname=alert.name[:200],
                labels=alert.labels.to_dict(),
                annotations=dict(alert.annotations),
                starts_at=starts,
                ends_at=None,
            )
            text = f"{alert.name or alert.fingerprint} fired"
        else:
            link.ends_at = None
            link.starts_at = starts
            text = f"{alert.name or alert.fingerprint} fired again"
        severity = severity_of(alert.labels)
        await service.append(
            session,
            incident,
            Kind.ALERT_FIRED,
            text,
            actor=SYSTEM_ACTOR,
            data={
                "fingerprint": alert.fingerprint,
                "labels": alert.labels.to_dict(),
                "severity": severity.value,
                "starts_at": starts.isoformat(),
            },
            at=now,
        )
        if incident.impact_started_at is None or starts < incident.impact_started_at:
            incident.impact_started_at = starts
        services, bots = services_and_bots([alert.labels.to_dict()])
        incident.services = list(dict.fromkeys([*incident.services, *services]))
        incident.bots = list(dict.fromkeys([*incident.bots, *bots]))
        current = Severity(incident.severity)
        if most_severe([current, severity]) is not current:
            await service.update(
                session,
                incident.public_id,
                {"severity": severity},
                by=SYSTEM_ACTOR,
                reason=f"{alert.name} is {severity.value}",
            )

    # -- the escalator's hooks -------------------------------------------------------

    async def on_acknowledged(
        self, key: str, *, by: str, reason: str | None, session: AsyncSession
    ) -> None:
        """The escalation of ``key`` was acknowledged: so is its open incident."""
        incident = await IncidentRepository(session).open_for_group(key, for_update=True)
        if incident is None or incident.acknowledged_at is not None:
            return
        await self.service.mark_acknowledged(
            session, incident, by=by, reason=reason, via="escalation"
        )

    async def on_step_fired(
        self,
        key: str,
        *,
        step: int,
        round_: int,
        channels: Sequence[str],
        session: AsyncSession,
    ) -> None:
        """A step of the escalation of ``key`` paged ``channels``."""
        incident = await IncidentRepository(session).open_for_group(key)
        if incident is None:
            return
        await self.service.append(
            session,
            incident,
            Kind.ESCALATED,
            f"escalation step {step} (round {round_}) paged {', '.join(channels) or 'nobody'}",
            actor=SYSTEM_ACTOR,
            data={"step": step, "round": round_, "channels": list(channels)},
        )
