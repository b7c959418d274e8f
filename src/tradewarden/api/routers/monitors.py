"""Monitors: their live state, recent results and flips; run-now, pause and resume; and
monitors created, replaced and deleted over the API (the config file's stay the file's)."""

from __future__ import annotations

import functools
import json
from datetime import datetime
from typing import Annotated, Any, get_args

from fastapi import APIRouter, Body, HTTPException, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from tradewarden.api._deps import Operator, RuntimeDep, Viewer, audit_context
from tradewarden.clock import utc_datetime
from tradewarden.probes import (
    CheckRecord,
    MonitorCatalog,
    MonitorSource,
    MonitorSpec,
    MonitorStatus,
    Scheduler,
    inline_secrets,
)
from tradewarden.probes.kinds import KINDS, monitor_adapter
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
    source: MonitorSource = Field(
        description="config: managed by the config file; api: created over the API"
    )
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


def _monitor(status: MonitorStatus, source: MonitorSource | None) -> MonitorOut:
    # Kind-specific fields (URLs, headers, DSN sources) are left out: they may hold secrets.
    spec = status.spec
    return MonitorOut(
        name=spec.name,
        kind=spec.kind,
        source=source or "config",
        state=status.state,
        paused=status.paused,
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


def _catalog(runtime: Runtime) -> MonitorCatalog:
    if runtime.monitors is None:
        raise HTTPException(503, "monitors do not run in this process")
    return runtime.monitors


def _out(runtime: Runtime, status: MonitorStatus) -> MonitorOut:
    catalog = runtime.monitors
    return _monitor(status, catalog.source(status.spec.name) if catalog else None)


def _status(runtime: Runtime, name: str) -> MonitorStatus:
    status = _scheduler(runtime).get(name)
    if status is None:
        raise HTTPException(404, f"monitor {name!r} does not exist")
    return status


@router.get("", response_model=list[MonitorOut], summary="List monitors with their state")
async def list_monitors(runtime: RuntimeDep, _viewer: Viewer) -> list[MonitorOut]:
    """Return every monitor, by name."""
    return [_out(runtime, status) for status in _scheduler(runtime).all()]


@router.get("/{name}", response_model=MonitorOut, summary="One monitor")
async def get_monitor(name: str, runtime: RuntimeDep, _viewer: Viewer) -> MonitorOut:
    """Return one monitor's state and last check."""
    return _out(runtime, _status(runtime, name))


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
    return _out(runtime, status)


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
    return _out(runtime, status)


# -- monitors created over the API -----------------------------------------------------

_KIND_NAMES = sorted(get_args(kind.model_fields["kind"].annotation)[0] for kind in KINDS)
_SPEC_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "One monitor, exactly as an entry of the config file's `monitors` list.",
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["name", "kind"],
                    "properties": {
                        "name": {"type": "string"},
                        "kind": {"type": "string", "enum": _KIND_NAMES},
                    },
                    "additionalProperties": True,
                }
            }
        },
    }
}
ReasonQuery = Annotated[
    str | None, Query(max_length=500, description="Why: written to the audit log.")
]


@functools.cache
def _adapter() -> TypeAdapter[Any]:
    return monitor_adapter()


def _invalid(problems: list[tuple[tuple[Any, ...], str]]) -> RequestValidationError:
    errors = [{"loc": ("body", *loc), "msg": msg, "type": "value_error"} for loc, msg in problems]
    return RequestValidationError(errors)


async def _spec_body(request: Request, *, path_name: str | None = None) -> MonitorSpec:
    """Validate the body as a config-file monitor; 422 naming each field (``body.url``)."""
    try:
        body = json.loads(await request.body())
    except (ValueError, RecursionError):
        raise _invalid([((), "the body is not valid JSON")]) from None
    if isinstance(body, dict) and path_name is not None:
        body.setdefault("name", path_name)
        if body["name"] != path_name:
            raise _invalid([(("name",), f"must be the name in the path ({path_name!r}) or absent")])
    try:
        spec: MonitorSpec = _adapter().validate_python(body)
    except ValidationError as exc:
        raise _invalid(
            [_problem(error, body) for error in exc.errors(include_input=False)]
        ) from None
    secrets = inline_secrets(spec)
    if secrets:
        # Kept out of the store (and its backups): the warden reads them from its own
        # environment or files instead.
        advice = "inline secrets are not accepted over the API: set {0}_env or {0}_file"
        raise _invalid([(path, advice.format(path[-1])) for path in secrets])
    return spec


def _problem(error: Any, body: Any) -> tuple[tuple[Any, ...], str]:
    """Return an error's field path without the union's tag (``http.url`` -> ``url``)."""
    loc = tuple(error["loc"])
    if error["type"] in {"union_tag_invalid", "union_tag_not_found"}:
        loc = ("kind",)
    elif loc and isinstance(body, dict) and loc[0] == body.get("kind"):
        loc = loc[1:]
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown field"
    return loc, message


@router.post(
    "",
    response_model=MonitorOut,
    status_code=201,
    summary="Create a monitor",
    openapi_extra=_SPEC_BODY,
    responses={409: {"description": "The name is taken (in the config file or the store)"}},
)
async def create_monitor(
    request: Request, runtime: RuntimeDep, _operator: Operator, reason: ReasonQuery = None
) -> MonitorOut:
    """Store a monitor and start checking it (audited). Secrets come from ``*_env`` or
    ``*_file``: inline ones are refused."""
    catalog = _catalog(runtime)
    spec = await _spec_body(request)
    await catalog.create(spec, audit_context(request, reason))
    return _out(runtime, _status(runtime, spec.name))


@router.put(
    "/{name}",
    response_model=MonitorOut,
    summary="Replace a monitor created over the API",
    openapi_extra=_SPEC_BODY,
    responses={409: {"description": "The monitor is managed by the config file"}},
)
async def replace_monitor(
    name: str,
    request: Request,
    runtime: RuntimeDep,
    _operator: Operator,
    reason: ReasonQuery = None,
) -> MonitorOut:
    """Replace the monitor's spec (audited); it keeps its state and recent checks."""
    catalog = _catalog(runtime)
    spec = await _spec_body(request, path_name=name)
    await catalog.replace(spec, audit_context(request, reason))
    return _out(runtime, _status(runtime, name))


@router.delete(
    "/{name}",
    status_code=204,
    response_class=Response,
    summary="Delete a monitor created over the API",
    responses={409: {"description": "The monitor is managed by the config file"}},
)
async def delete_monitor(
    name: str,
    request: Request,
    runtime: RuntimeDep,
    _operator: Operator,
    reason: ReasonQuery = None,
) -> Response:
    """Stop the monitor and delete it, with its series (audited; its flips are kept)."""
    await _catalog(runtime).delete(name, audit_context(request, reason))
    return Response(status_code=204)
