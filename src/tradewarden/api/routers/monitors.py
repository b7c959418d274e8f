"""Monitors: their live state, recent results and flips; run-now, pause and resume."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from tradewarden.api._deps import Operator, RuntimeDep, Viewer, audit_context
from tradewarden.clock import utc_datetime
from tradewarden.probes import CheckRecord, MonitorStatus, Scheduler
from tradewarden.runtime import Runtime
from tradewarden.store import AuditRecord, AuditRepository, FlipRepository

router = APIRouter(prefix="/v1/monitors", tags=["monitors"])


class CheckOut(BaseModel):
    at: datetime
    success: bool
    degraded: bool
    duration_s: float
    error: str | None
    schedule_delay_s: float
    state: str


class MonitorOut(BaseModel):
    name: str
    kind: str
    state: str
    paused: bool
    interval_s: float
    timeout_s: float
    failure: dict[str, Any]
    labels: dict[str, str]
    last_check: CheckOut | None


class FlipOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    monitor: str
    old_state: str
    new_state: str
    reason: str
    at: datetime


class Reason(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="", max_length=500)


def _check(record: CheckRecord) -> CheckOut:
    return CheckOut(
        at=utc_datetime(record.at),
        success=record.success,
        degraded=record.degraded,
        duration_s=record.duration_s,
        error=record.error,
        schedule_delay_s=record.schedule_delay_s,
        state=record.state,
    )


def _monitor(status: MonitorStatus) -> MonitorOut:
    spec = status.spec
    return MonitorOut(
        name=spec.name,
        kind=spec.kind,
        state=status.state,
        paused=spec.paused,
        interval_s=spec.interval_s,
        timeout_s=spec.timeout_s,
        failure=spec.failure.model_dump(),
        labels=dict(spec.labels),
        last_check=_check(status.history[-1]) if status.history else None,
    )


def _scheduler(runtime: Runtime) -> Scheduler:
    if runtime.scheduler is None:
        raise HTTPException(503, "monitors do not run in this process")
    return runtime.scheduler


def _status(runtime: Runtime, name: str) -> MonitorStatus:
    status = _scheduler(runtime).get(name)
    if status is None:
        raise HTTPException(404, f"monitor {name!r} does not exist")
    return status


@router.get("", response_model=list[MonitorOut], summary="List monitors with their state")
async def list_monitors(runtime: RuntimeDep, _viewer: Viewer) -> list[MonitorOut]:
    """Return every monitor, by name."""
    return [_monitor(status) for status in _scheduler(runtime).all()]


@router.get("/{name}", response_model=MonitorOut, summary="One monitor")
async def get_monitor(name: str, runtime: RuntimeDep, _viewer: Viewer) -> MonitorOut:
    """Return one monitor's state and last check."""
    return _monitor(_status(runtime, name))


@router.get("/{name}/history", response_model=list[CheckOut], summary="Recent checks")
async def history(name: str, runtime: RuntimeDep, _viewer: Viewer) -> list[CheckOut]:
    """Return the monitor's recent checks, newest first (a bounded ring)."""
    return [_check(record) for record in reversed(_status(runtime, name).history)]


@router.get("/{name}/flips", response_model=list[FlipOut], summary="State changes")
async def flips(
    name: str,
    runtime: RuntimeDep,
    _viewer: Viewer,
    limit: int = Query(default=100, ge=1, le=1000),
    before_id: int | None = Query(default=None, ge=1),
) -> list[FlipOut]:
    """Return the monitor's stored state changes, newest first; page with ``before_id``."""
    async with runtime.database.read_session() as session:
        rows = await FlipRepository(session).list(monitor=name, limit=limit, before_id=before_id)
    return [FlipOut.model_validate(row) for row in rows]


async def _audit(
    runtime: Runtime, request: Request, action: str, name: str, *, reason: str, state: str
) -> None:
    base = audit_context(request, reason or None)
    record = AuditRecord(
        actor=base.actor,
        actor_type=base.actor_type,
        action=action,
        outcome="success",
        target=name,
        reason=base.reason,
        details={"state": state},
        request_id=base.request_id,
        source_ip=base.source_ip,
    )
    async with runtime.database.session() as session:
        await AuditRepository(session).append(record, now=utc_datetime(runtime.clock.now()))


@router.post("/{name}/run", response_model=CheckOut, summary="Check now")
async def run_now(
    name: str, request: Request, runtime: RuntimeDep, _operator: Operator
) -> CheckOut:
    """Check the monitor at once and return the result (audited)."""
    _status(runtime, name)
    record = await _scheduler(runtime).run_now(name)
    await _audit(runtime, request, "monitor.run", name, reason="", state=record.state)
    return _check(record)


@router.post("/{name}/pause", response_model=MonitorOut, summary="Pause a monitor")
async def pause(
    name: str,
    request: Request,
    runtime: RuntimeDep,
    _operator: Operator,
    body: Annotated[Reason | None, Body()] = None,
) -> MonitorOut:
    """Stop checking the monitor; it becomes PAUSED (a recorded flip, audited)."""
    _status(runtime, name)
    body = body or Reason()
    status = await _scheduler(runtime).pause(name, body.reason)
    await _audit(runtime, request, "monitor.pause", name, reason=body.reason, state=status.state)
    return _monitor(status)


@router.post("/{name}/resume", response_model=MonitorOut, summary="Resume a monitor")
async def resume(
    name: str,
    request: Request,
    runtime: RuntimeDep,
    _operator: Operator,
    body: Annotated[Reason | None, Body()] = None,
) -> MonitorOut:
    """Check the monitor again from now (audited)."""
    _status(runtime, name)
    body = body or Reason()
    status = await _scheduler(runtime).resume(name, body.reason)
    await _audit(runtime, request, "monitor.resume", name, reason=body.reason, state=status.state)
    return _monitor(status)
