"""Incidents over the API: viewers read, operators write; every write is audited.

- ``GET /v1/incidents`` (filters ``status``, ``severity``, ``from``/``to`` on the opening
  time; ``limit``/``offset``), ``GET /v1/incidents/{id}`` (with alerts, timeline and action
  items), ``GET /v1/incidents/{id}/report`` (``text/markdown``).
- ``POST /v1/incidents`` (open), ``POST .../notes``, ``/ack``, ``/status``, ``/resolve``,
  ``PATCH /v1/incidents/{id}`` (fields), ``POST .../action-items``,
  ``PATCH .../action-items/{n}``: the change, its timeline entry and its audit row
  (``incident.open``, ``incident.note``, ...) commit in one transaction. An unknown id is
  404, a move the status does not allow 409, a bad body 422 naming the field.
- ``POST /v1/incidents/{id}/actions/{action_id}`` (``{"reason"}`` required) presses a
  remediation button of the incident's runbook (the one its diagnosis ran, else the one its
  first alert finds): the same control call as the control endpoints, audited like them
  (with ``incident``, ``runbook``, ``action``) and on the timeline as ``control``. An
  action the runbook lacks is 404, a control back end not set up 503.
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from tradewarden.api._deps import Operator, RuntimeDep, Viewer, audit_context
from tradewarden.clock import utc_datetime
from tradewarden.errors import NotFoundError
from tradewarden.incidents import Impact, IncidentDetail, IncidentService, Status, durations
from tradewarden.notify import Severity
from tradewarden.runbooks import Runbook
from tradewarden.runbooks._actions import ActionFailedError, ActionPresser, Pressing
from tradewarden.runtime import Runtime
from tradewarden.store import (
    AuditRecord,
    AuditRepository,
    Incident,
    IncidentActionItem,
    IncidentAlert,
    IncidentFilter,
    IncidentTimelineEntry,
)

router = APIRouter(prefix="/v1/incidents", tags=["incidents"])

IncidentId = Annotated[str, Path(min_length=1, max_length=24, description="INC-2026-0042")]
_Reason = Annotated[
    str | None, Field(default=None, max_length=500, description="Why: written to the audit log.")
]
_Name = Annotated[str, Field(min_length=1, max_length=100)]
_Text = Annotated[str, Field(min_length=1, max_length=10_000)]


class OpenBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=300)
    severity: Severity
    services: list[_Name] = Field(default_factory=list, max_length=50)
    bots: list[_Name] = Field(default_factory=list, max_length=50)
    impact: Impact = Field(default_factory=Impact)
    commander: str | None = Field(default=None, min_length=1, max_length=200)
    impact_started_at: AwareDatetime | None = Field(
        default=None, description="When the harm began (default: now)."
    )
    reason: _Reason = None


class NoteBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: _Text


class AckBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: _Reason = None


class StatusBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Status
    reason: _Reason = None


class ResolveBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    resolution: _Text


class PatchBody(BaseModel):
    """Only the fields given change; ``reason`` goes to the audit log and the timeline."""

    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(default=None, min_length=1, max_length=300)
    severity: Severity | None = None
    commander: str | None = Field(default=None, max_length=200)
    services: list[_Name] | None = Field(default=None, max_length=50)
    bots: list[_Name] | None = Field(default=None, max_length=50)
    impact: Impact | None = None
    impact_started_at: AwareDatetime | None = None
    root_cause: str | None = Field(default=None, max_length=10_000)
    resolution: str | None = Field(default=None, max_length=10_000)
    lessons_learned: str | None = Field(default=None, max_length=10_000)
    false_positive: bool | None = None
    reason: _Reason = None


_NOT_NULL = frozenset({"title", "severity", "services", "bots", "impact", "false_positive"})


class ActionItemBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=500)
    owner: str | None = Field(default=None, min_length=1, max_length=200)
    due_date: date | None = None


class ActionItemPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(default=None, min_length=1, max_length=500)
    owner: str | None = Field(default=None, max_length=200)
    due_date: date | None = None
    status: Literal["open", "done"] | None = None


class DurationsOut(BaseModel):
    time_to_detect_s: float | None = Field(description="impact_started_at → detected_at")
    time_to_acknowledge_s: float | None = Field(description="notified_at → acknowledged_at")
    time_to_resolve_s: float | None = Field(description="impact_started_at → resolved_at")


class IncidentOut(BaseModel):
    id: str = Field(description="INC-<year>-<number>")
    title: str
    severity: str
    status: str
    commander: str | None
    services: list[str]
    bots: list[str]
    impact: Impact
    group_key: str | None = Field(description="The alert group it was opened for.")
    impact_started_at: datetime | None
    detected_at: datetime | None
    notified_at: datetime | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    mitigated_at: datetime | None
    resolved_at: datetime | None
    resolved_by: str | None
    root_cause: str | None
    resolution: str | None
    lessons_learned: str | None
    false_positive: bool
    created_by: str
    created_at: datetime
    updated_at: datetime
    durations: DurationsOut


class AlertOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    fingerprint: str
    alertname: str
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: datetime
    ends_at: datetime | None


class TimelineOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    kind: str
    actor: str
    text: str
    data: dict[str, Any]


class ActionItemOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    number: int
    title: str
    owner: str | None
    due_date: date | None
    status: str
    created_by: str
    created_at: datetime
    updated_at: datetime


class IncidentDetailOut(IncidentOut):
    alerts: list[AlertOut]
    timeline: list[TimelineOut]
    action_items: list[ActionItemOut]


class PageOut(BaseModel):
    items: list[IncidentOut]
    total: int = Field(description="How many incidents match the filters in all.")
    limit: int
    offset: int


class AckOut(BaseModel):
    changed: bool = Field(description="false: it was acknowledged already.")
    incident: IncidentOut


def incident_out(row: Incident) -> IncidentOut:
    """Return the API's view of an incident."""
    return IncidentOut(
        id=row.public_id,
        title=row.title,
        severity=row.severity,
        status=row.status,
        commander=row.commander,
        services=list(row.services),
        bots=list(row.bots),
        impact=Impact.model_validate(row.impact),
        group_key=row.group_key,
        impact_started_at=row.impact_started_at,
        detected_at=row.detected_at,
        notified_at=row.notified_at,
        acknowledged_at=row.acknowledged_at,
        acknowledged_by=row.acknowledged_by,
        mitigated_at=row.mitigated_at,
        resolved_at=row.resolved_at,
        resolved_by=row.resolved_by,
        root_cause=row.root_cause,
        resolution=row.resolution,
        lessons_learned=row.lessons_learned,
        false_positive=row.false_positive,
        created_by=row.created_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
        durations=DurationsOut(
            **durations(
                impact_started_at=row.impact_started_at,
                detected_at=row.detected_at,
                notified_at=row.notified_at,
                acknowledged_at=row.acknowledged_at,
                resolved_at=row.resolved_at,
            )
        ),
    )


def _alert_out(row: IncidentAlert) -> AlertOut:
    return AlertOut.model_validate(row)


def _entry_out(row: IncidentTimelineEntry) -> TimelineOut:
    return TimelineOut.model_validate(row)


def _item_out(row: IncidentActionItem) -> ActionItemOut:
    return ActionItemOut.model_validate(row)


def detail_out(found: IncidentDetail) -> IncidentDetailOut:
    """Return the API's view of an incident with everything attached."""
    return IncidentDetailOut(
        **incident_out(found.incident).model_dump(),
        alerts=[_alert_out(a) for a in found.alerts],
        timeline=[_entry_out(e) for e in found.timeline],
        action_items=[_item_out(i) for i in found.action_items],
    )


def _service(runtime: Runtime) -> IncidentService:
    if runtime.incidents is None:
        raise HTTPException(503, "incidents are not set up in this process")
    return runtime.incidents


async def _audit(
    runtime: Runtime,
    session: AsyncSession,
    record: AuditRecord,
    action: str,
    target: str,
    *,
    details: dict[str, Any] | None = None,
) -> None:
    entry = dataclasses.replace(record, action=action, target=target, details=details)
    await AuditRepository(session).append(entry, now=utc_datetime(runtime.clock.now()))


# -- reads -------------------------------------------------------------------------------


@router.get("", response_model=PageOut, summary="List incidents")
async def list_incidents(
    *,
    runtime: RuntimeDep,
    _viewer: Viewer,
    status: Annotated[list[Status] | None, Query(description="Only these statuses.")] = None,
    severity: Annotated[list[Severity] | None, Query(description="Only these.")] = None,
    opened_from: Annotated[
        AwareDatetime | None, Query(alias="from", description="Opened at or after (RFC 3339).")
    ] = None,
    opened_to: Annotated[
        AwareDatetime | None, Query(alias="to", description="Opened before (RFC 3339).")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> PageOut:
    """Return incidents, newest first, a page at a time."""
    where = IncidentFilter(
        statuses=[s.value for s in status or ()],
        severities=[s.value for s in severity or ()],
        opened_from=opened_from,
        opened_to=opened_to,
    )
    async with runtime.database.read_session() as session:
        rows, total = await _service(runtime).list(session, where, limit=limit, offset=offset)
    return PageOut(items=[incident_out(r) for r in rows], total=total, limit=limit, offset=offset)


@router.get("/{incident_id}", response_model=IncidentDetailOut, summary="Show an incident")
async def get_incident(
    incident_id: IncidentId, runtime: RuntimeDep, _viewer: Viewer
) -> IncidentDetailOut:
    """Return the incident with its alerts, timeline and action items."""
    async with runtime.database.read_session() as session:
        return detail_out(await _service(runtime).detail(session, incident_id))


@router.get(
    "/{incident_id}/report",
    response_class=PlainTextResponse,
    summary="The incident report (Markdown)",
    responses={200: {"content": {"text/markdown": {}, "application/json": {}}}},
)
async def get_report(
    incident_id: IncidentId,
    runtime: RuntimeDep,
    _viewer: Viewer,
    output: Annotated[
        Literal["markdown", "json"],
        Query(alias="format", description="json: {id, markdown} (the CLI reads that)."),
    ] = "markdown",
) -> Response:
    """Return the incident report in the seeds' template, as Markdown."""
    async with runtime.database.read_session() as session:
        text = await _service(runtime).report(session, incident_id)
    if output == "json":
        return JSONResponse({"id": incident_id, "markdown": text})
    return PlainTextResponse(text, media_type="text/markdown; charset=utf-8")


# -- writes ------------------------------------------------------------------------------


@router.post("", response_model=IncidentDetailOut, status_code=201, summary="Open an incident")
async def open_incident(
    body: OpenBody, request: Request, runtime: RuntimeDep, operator: Operator
) -> IncidentDetailOut:
    """Open an incident by hand (audited as ``incident.open``)."""
    service = _service(runtime)
    record = audit_context(request, body.reason)
    async with runtime.database.session() as session:
        incident = await service.open(
            session,
            title=body.title,
            severity=body.severity,
            by=operator.actor,
            services=body.services,
            bots=body.bots,
            impact=body.impact,
            commander=body.commander,
            impact_started_at=body.impact_started_at,
            reason=body.reason,
        )
        await _audit(
            runtime,
            session,
            record,
            "incident.open",
            incident.public_id,
            details={"severity": body.severity.value, "title": body.title},
        )
        return detail_out(await service.detail(session, incident.public_id))


@router.post("/{incident_id}/notes", response_model=TimelineOut, status_code=201)
async def add_note(
    incident_id: IncidentId,
    body: NoteBody,
    request: Request,
    runtime: RuntimeDep,
    operator: Operator,
) -> TimelineOut:
    """Add a note to the timeline (audited as ``incident.note``)."""
    service = _service(runtime)
    record = audit_context(request)
    async with runtime.database.session() as session:
        entry = await service.note(session, incident_id, body.text, by=operator.actor)
        await _audit(runtime, session, record, "incident.note", incident_id)
        return _entry_out(entry)


@router.post("/{incident_id}/ack", response_model=AckOut)
async def acknowledge(
    incident_id: IncidentId,
    body: AckBody,
    request: Request,
    runtime: RuntimeDep,
    operator: Operator,
) -> AckOut:
    """Acknowledge the incident and its alert group's escalation (paging stops); 409 when it
    is resolved, ``changed: false`` when it was acknowledged already."""
    service = _service(runtime)
    record = audit_context(request, body.reason)
    async with runtime.database.session() as session:
        incident, changed = await service.acknowledge(
            session, incident_id, by=operator.actor, reason=body.reason
        )
        await _audit(
            runtime, session, record, "incident.ack", incident_id, details={"changed": changed}
        )
        return AckOut(changed=changed, incident=incident_out(incident))


@router.post("/{incident_id}/status", response_model=IncidentOut)
async def set_status(
    incident_id: IncidentId,
    body: StatusBody,
    request: Request,
    runtime: RuntimeDep,
    operator: Operator,
) -> IncidentOut:
    """Move the incident (409 when its status does not allow it)."""
    service = _service(runtime)
    record = audit_context(request, body.reason)
    async with runtime.database.session() as session:
        before = (await service.get(session, incident_id)).status
        incident = await service.set_status(
            session, incident_id, body.status, by=operator.actor, reason=body.reason
        )
        details = {"from": before, "to": body.status.value}
        await _audit(runtime, session, record, "incident.status", incident_id, details=details)
        return incident_out(incident)


@router.post("/{incident_id}/resolve", response_model=IncidentOut)
async def resolve(
    incident_id: IncidentId,
    body: ResolveBody,
    request: Request,
    runtime: RuntimeDep,
    operator: Operator,
) -> IncidentOut:
    """Resolve the incident with what fixed it (409 when it is resolved already)."""
    service = _service(runtime)
    record = audit_context(request, body.resolution[:500])
    async with runtime.database.session() as session:
        incident = await service.resolve(
            session, incident_id, by=operator.actor, resolution=body.resolution
        )
        await _audit(runtime, session, record, "incident.resolve", incident_id)
        return incident_out(incident)


@router.patch("/{incident_id}", response_model=IncidentOut)
async def update_incident(
    incident_id: IncidentId,
    body: PatchBody,
    request: Request,
    runtime: RuntimeDep,
    operator: Operator,
) -> IncidentOut:
    """Change fields of the record (each change on the timeline as ``field_changed``)."""
    changes = {name: getattr(body, name) for name in body.model_fields_set if name != "reason"}
    if not changes:
        raise HTTPException(422, "body: give at least one field to change")
    for name in sorted(changes):
        if changes[name] is None and name in _NOT_NULL:
            raise HTTPException(422, f"{name}: may not be null")
    service = _service(runtime)
    record = audit_context(request, body.reason)
    async with runtime.database.session() as session:
        incident = await service.update(
            session, incident_id, changes, by=operator.actor, reason=body.reason
        )
        await _audit(
            runtime,
            session,
            record,
            "incident.update",
            incident_id,
            details={"fields": sorted(changes)},
        )
        return incident_out(incident)


@router.post("/{incident_id}/action-items", response_model=ActionItemOut, status_code=201)
async def add_action_item(
    incident_id: IncidentId,
    body: ActionItemBody,
    request: Request,
    runtime: RuntimeDep,
    operator: Operator,
) -> ActionItemOut:
    """Add a post-mortem action item."""
    service = _service(runtime)
    record = audit_context(request)
    async with runtime.database.session() as session:
        item = await service.add_action_item(
            session,
            incident_id,
            title=body.title,
            owner=body.owner,
            due_date=body.due_date,
            by=operator.actor,
        )
        await _audit(
            runtime,
            session,
            record,
            "incident.action_item.add",
            incident_id,
            details={"number": item.number, "title": body.title},
        )
        return _item_out(item)


@router.patch("/{incident_id}/action-items/{number}", response_model=ActionItemOut)
async def update_action_item(
    *,
    incident_id: IncidentId,
    number: Annotated[int, Path(ge=1)],
    body: ActionItemPatch,
    request: Request,
    runtime: RuntimeDep,
    operator: Operator,
) -> ActionItemOut:
    """Change an action item (``{"status": "done"}`` marks it done)."""
    changes = {name: getattr(body, name) for name in body.model_fields_set}
    if not changes:
        raise HTTPException(422, "body: give at least one field to change")
    for name in ("title", "status"):
        if name in changes and changes[name] is None:
            raise HTTPException(422, f"{name}: may not be null")
    service = _service(runtime)
    record = audit_context(request)
    async with runtime.database.session() as session:
        item = await service.update_action_item(
            session, incident_id, number, changes, by=operator.actor
        )
        await _audit(
            runtime,
            session,
            record,
            "incident.action_item.update",
            incident_id,
            details={"number": number, "fields": sorted(changes)},
        )
        return _item_out(item)


# -- remediation buttons -----------------------------------------------------------------


class PressBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=500, description="Why: audited (required).")


class PressOut(BaseModel):
    incident: str
    runbook: str
    action: str = Field(description="The action's id in the runbook.")
    name: str = Field(description="kill_switch.halt, kill_switch.reduce, breaker.open, ...")
    target: str
    details: dict[str, Any] = Field(description="What the control call did (as audited).")


def _runbook_of(runtime: Runtime, found: IncidentDetail) -> Runbook:
    """Return the runbook the incident's diagnosis ran, else its first alert's."""
    for entry in found.timeline:
        named = entry.data.get("runbook") if isinstance(entry.data, dict) else None
        if entry.actor == "runbook" and isinstance(named, str):
            try:
                return runtime.runbooks.get(named)
            except NotFoundError:
                break
    if found.alerts:
        alert = found.alerts[0]
        runbook = runtime.runbooks.for_alert(alert.labels, alert.annotations)
        if runbook is not None:
            return runbook
    raise HTTPException(404, f"incident {found.incident.public_id} has no runbook")


@router.post(
    "/{incident_id}/actions/{action_id}",
    response_model=PressOut,
    summary="Press a runbook remediation action",
)
async def press_action(
    *,
    incident_id: IncidentId,
    action_id: Annotated[str, Path(min_length=1, max_length=63)],
    body: PressBody,
    request: Request,
    runtime: RuntimeDep,
    operator: Operator,
) -> PressOut:
    """Run one of the runbook's actions now (the alert's labels fill its params)."""
    service = _service(runtime)
    async with runtime.database.read_session() as session:
        found = await service.detail(session, incident_id)
    runbook = _runbook_of(runtime, found)
    presser = ActionPresser.for_runtime(runtime)
    record = audit_context(request, body.reason)
    alert = found.alerts[0] if found.alerts else None
    try:
        action = presser.find(runbook, action_id)
        done = await presser.press(
            found.incident,
            Pressing(
                runbook=runbook,
                action=action,
                actor=operator.actor,
                actor_type=record.actor_type,
                reason=body.reason,
                labels=dict(alert.labels) if alert else {},
                annotations=dict(alert.annotations) if alert else {},
                request_id=record.request_id,
                source_ip=record.source_ip,
            ),
        )
    except ActionFailedError as exc:
        raise HTTPException(exc.status, exc.message) from None
    target = done.pop("target")
    return PressOut(
        incident=found.incident.public_id,
        runbook=runbook.id,
        action=action.id,
        name=action.action,
        target=str(target),
        details=done,
    )
