"""Acknowledgements, escalations and on-call over the API.

- ``POST /v1/alerts/{key}/ack`` (operator, ``reason`` required): stop escalating, audited
  as ``alert.ack`` in the same transaction; ``GET /v1/escalations`` (viewer).
- ``GET /v1/ack/{token}``: the signed link in a message. It only shows a confirmation page
  (mail clients' link scanners fetch links); its form ``POST``\\s to the same URL, which
  acknowledges, audited with the actor ``ack-link``. The token is the credential: no login.
- ``GET /v1/oncall`` (viewer): who is on call in each layer now, and the overrides;
  ``POST /v1/oncall/overrides`` and ``DELETE /v1/oncall/overrides/{id}`` (operator, audited
  as ``oncall.override.create|delete``).
"""

from __future__ import annotations

import dataclasses
import html
from datetime import datetime
from typing import Annotated, Literal
from urllib.parse import parse_qs

from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from tradewarden.api._deps import Operator, RuntimeDep, Viewer, audit_context
from tradewarden.clock import utc_datetime
from tradewarden.errors import AuthError
from tradewarden.escalation import Escalator, OverrideError
from tradewarden.runtime import Runtime
from tradewarden.store import (
    AuditRecord,
    AuditRepository,
    Escalation,
    EscalationRepository,
    OnCallOverride,
    OverrideRepository,
)

router = APIRouter(prefix="/v1", tags=["escalation"])

_Reason = Annotated[
    str, Field(min_length=1, max_length=500, description="Why: written to the audit log.")
]
_FORM_MAX_BYTES = 4096
Status = Literal["open", "exhausted", "acknowledged", "resolved"]


class AckBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: _Reason


class EscalationOut(BaseModel):
    key: str = Field(description="The alert group or fingerprint the dispatcher escalates.")
    generation: int = Field(description="Grows each time the key fires again after a resolve.")
    policy: str
    status: str = Field(description="open, exhausted, acknowledged or resolved")
    title: str
    severity: str
    next_step: int = Field(description="The step that fires next (1-based).")
    round: int = Field(description="The pass through the policy (1-based).")
    fired: int = Field(description="Steps fired so far.")
    due_at: datetime | None
    notified: list[str] = Field(description="The channels paged so far.")
    opened_at: datetime
    last_fired_at: datetime | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    ack_reason: str | None
    resolved_at: datetime | None


class AckOut(BaseModel):
    changed: bool = Field(description="False when it was acknowledged already.")
    escalation: EscalationOut


class OverrideBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schedule: str = Field(max_length=100)
    layer: str | None = Field(default=None, max_length=100, description="None: every layer.")
    replaces: str = Field(max_length=100)
    replacement: str = Field(max_length=100)
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    reason: _Reason


class OverrideOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    schedule: str
    layer: str | None
    replaces: str
    replacement: str
    starts_at: datetime
    ends_at: datetime
    created_at: datetime
    created_by: str
    reason: str | None


class LayerOut(BaseModel):
    schedule: str
    layer: str
    on_call: str | None


class OnCallOut(BaseModel):
    at: datetime
    layers: list[LayerOut]
    overrides: list[OverrideOut]


def escalation_out(row: Escalation) -> EscalationOut:
    """Return the API's view of an escalation row."""
    message = row.message
    return EscalationOut(
        key=row.key,
        generation=row.generation,
        policy=row.policy_name,
        status=row.status,
        title=str(message.get("title", "")),
        severity=str(message.get("severity", "")),
        next_step=row.step + 1,
        round=row.round + 1,
        fired=row.fired,
        due_at=row.due_at,
        notified=list(row.notified),
        opened_at=row.opened_at,
        last_fired_at=row.last_fired_at,
        acknowledged_at=row.acknowledged_at,
        acknowledged_by=row.acknowledged_by,
        ack_reason=row.ack_reason,
        resolved_at=row.resolved_at,
    )


def _escalator(runtime: Runtime) -> Escalator:
    if runtime.escalator is None:
        raise HTTPException(503, "escalations are not set up in this process")
    return runtime.escalator


async def _acknowledge(
    runtime: Runtime, key: str, record: AuditRecord, *, by: str, reason: str | None
) -> AckOut:
    """Acknowledge and audit in one transaction."""
    escalator = _escalator(runtime)
    async with runtime.database.session() as session:
        row, changed = await escalator.acknowledge(key, by=by, reason=reason, session=session)
        entry = dataclasses.replace(
            record,
            action="alert.ack",
            target=key,
            details={"changed": changed, "generation": row.generation, "policy": row.policy_name},
        )
        await AuditRepository(session).append(entry, now=utc_datetime(runtime.clock.now()))
        return AckOut(changed=changed, escalation=escalation_out(row))


@router.post("/alerts/{key:path}/ack", response_model=AckOut, summary="Acknowledge an alert")
async def acknowledge(
    key: Annotated[str, Path(min_length=1, max_length=400)],
    body: AckBody,
    request: Request,
    runtime: RuntimeDep,
    operator: Operator,
) -> AckOut:
    """Stop escalating the alert ``key`` (audited); 404 when it has no escalation, 409 when it
    is resolved. Acknowledging twice changes nothing (``changed: false``)."""
    record = audit_context(request, body.reason)
    return await _acknowledge(runtime, key, record, by=operator.actor, reason=body.reason)


@router.get("/escalations", response_model=list[EscalationOut], summary="List escalations")
async def list_escalations(
    runtime: RuntimeDep,
    _viewer: Viewer,
    status: Annotated[list[Status] | None, Query(description="Only these statuses.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[EscalationOut]:
    """Return escalations, most recently changed first."""
    async with runtime.database.read_session() as session:
        rows = await EscalationRepository(session).list(statuses=status, limit=limit)
    return [escalation_out(row) for row in rows]


def _page(title: str, body: str, *, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        "<!doctype html><html><head><meta charset='utf-8'>"
        "<meta name='referrer' content='no-referrer'>"
        f"<title>{html.escape(title)}</title></head><body>"
        f"<h1>{html.escape(title)}</h1>{body}</body></html>",
        status_code=status,
        headers={"Cache-Control": "no-store", "X-Robots-Tag": "noindex"},
    )


def _invalid_link() -> HTMLResponse:
    return _page(
        "Link not valid",
        "<p>This acknowledgement link is invalid or has expired. Use "
        "<code>tradewarden ack KEY --reason ...</code> or the API.</p>",
        status=401,
    )


def _ticket_key(runtime: Runtime, token: str) -> str | None:
    escalator = _escalator(runtime)
    if escalator.links is None:
        return None
    try:
        return escalator.links.verify(token, now=runtime.clock.now()).key
    except AuthError:
        return None


@router.get("/ack/{token}", response_class=HTMLResponse, include_in_schema=False)
async def ack_link_page(
    token: Annotated[str, Path(max_length=2000)], runtime: RuntimeDep
) -> HTMLResponse:
    """Show what the link acknowledges and a button; fetching it acknowledges nothing."""
    key = _ticket_key(runtime, token)
    if key is None:
        return _invalid_link()
    async with runtime.database.read_session() as session:
        row = await EscalationRepository(session).get(key)
    if row is None:
        return _page("Nothing to acknowledge", "<p>This alert has no escalation.</p>", status=404)
    out = escalation_out(row)
    details = (
        f"<p><b>{html.escape(out.severity)}</b> {html.escape(out.title)}</p>"
        f"<p>Status: {html.escape(out.status)}</p>"
    )
    if out.status in {"acknowledged", "resolved"}:
        return _page("Already " + out.status, details)
    form = (
        "<form method='post'><label>Reason <input name='reason' maxlength='500'></label> "
        "<button type='submit'>Acknowledge</button></form>"
    )
    return _page("Acknowledge this alert?", details + form)


@router.post("/ack/{token}", response_class=HTMLResponse, include_in_schema=False)
async def ack_link_confirm(
    token: Annotated[str, Path(max_length=2000)], request: Request, runtime: RuntimeDep
) -> HTMLResponse:
    """Acknowledge through the signed link (the confirmation form posts here)."""
    key = _ticket_key(runtime, token)
    if key is None:
        return _invalid_link()
    raw = await request.body()
    form = parse_qs(raw[:_FORM_MAX_BYTES].decode("utf-8", "replace"))
    reason = (form.get("reason") or [""])[0].strip()[:500] or "acknowledged by link"
    record = dataclasses.replace(
        audit_context(request, reason), actor="ack-link", actor_type="link"
    )
    out = await _acknowledge(runtime, key, record, by="ack-link", reason=reason)
    title = "Acknowledged" if out.changed else "Already acknowledged"
    return _page(title, f"<p>{html.escape(out.escalation.title)}</p>")


@router.get("/oncall", response_model=OnCallOut, summary="Who is on call")
async def on_call(
    runtime: RuntimeDep,
    _viewer: Viewer,
    at: Annotated[AwareDatetime | None, Query(description="When (default: now).")] = None,
) -> OnCallOut:
    """Return who is on call in every layer of every schedule, overrides included."""
    escalator = _escalator(runtime)
    moment = at or utc_datetime(runtime.clock.now())
    layers = [
        LayerOut(
            schedule=name,
            layer=layer.name,
            on_call=await escalator.who_is_on_call(name, layer.name, moment),
        )
        for name, schedule in escalator.schedules.items()
        for layer in schedule.layers
    ]
    async with runtime.database.read_session() as session:
        rows = await OverrideRepository(session).active(moment)
    return OnCallOut(
        at=moment, layers=layers, overrides=[OverrideOut.model_validate(r) for r in rows]
    )


@router.post("/oncall/overrides", response_model=OverrideOut, status_code=201)
async def add_override(
    body: OverrideBody, request: Request, runtime: RuntimeDep, operator: Operator
) -> OverrideOut:
    """Put ``replacement`` on call instead of ``replaces`` from ``starts_at`` to ``ends_at``
    (audited); 422 naming the field that does not fit the schedules."""
    escalator = _escalator(runtime)
    fields = body.model_dump(exclude={"reason"})
    try:
        escalator.check_override(**fields)
    except OverrideError as exc:
        field, _, message = str(exc).partition(": ")
        raise _invalid(field, message) from None
    now = utc_datetime(runtime.clock.now())
    async with runtime.database.session() as session:
        row = await OverrideRepository(session).add(
            **fields, created_at=now, created_by=operator.actor, reason=body.reason
        )
        out = OverrideOut.model_validate(row)
        await _audit_override(session, request, "create", row, reason=body.reason, now=now)
    return out


@router.delete("/oncall/overrides/{override_id}", status_code=204)
async def delete_override(
    override_id: Annotated[int, Path(ge=1)],
    reason: Annotated[str, Query(min_length=1, max_length=500)],
    request: Request,
    runtime: RuntimeDep,
    _operator: Operator,
) -> None:
    """Remove an override (audited); 404 when there is none."""
    now = utc_datetime(runtime.clock.now())
    async with runtime.database.session() as session:
        repo = OverrideRepository(session)
        row = await repo.get(override_id)
        if row is None:
            raise HTTPException(404, f"no override {override_id}")
        await _audit_override(session, request, "delete", row, reason=reason, now=now)
        await repo.delete(override_id)


async def _audit_override(
    session: AsyncSession,
    request: Request,
    action: str,
    row: OnCallOverride,
    *,
    reason: str,
    now: datetime,
) -> None:
    record = dataclasses.replace(
        audit_context(request, reason),
        action=f"oncall.override.{action}",
        target=f"{row.schedule}/{row.layer or '*'}",
        details={
            "id": row.id,
            "replaces": row.replaces,
            "replacement": row.replacement,
            "starts_at": row.starts_at.isoformat(),
            "ends_at": row.ends_at.isoformat(),
        },
    )
    await AuditRepository(session).append(record, now=now)


def _invalid(field: str, message: str) -> Exception:
    return RequestValidationError([{"loc": ("body", field), "msg": message, "type": "value_error"}])
