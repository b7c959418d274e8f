"""The kill switch, the trading state and the shared circuit breakers, for operators.

``POST /api/kill-switch`` (also ``/v1/kill-switch``) halts every bot watching the
configured trading-state back end; ``.../reduce`` allows only exposure-reducing orders;
``.../resume`` is the one way back. ``GET /api/status`` answers in the seeds' shape
(``.risk.killSwitchActive``). ``/api/circuit-breakers`` lists and changes the breakers the
bots share through Redis. A change is stored before the answer (200); a back end that
cannot store it answers 503. Every attempt is audited (``trading.halt``,
``breaker.close``, ...; failures with the outcome ``error``), a caller below operator is
refused and audited as ``denied`` by the error handlers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar

import structlog
from fastapi import APIRouter, Body, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import SQLAlchemyError

from tradewarden._version import __version__
from tradewarden.api._deps import Operator, RuntimeDep, Viewer, audit_context
from tradewarden.clock import utc_datetime
from tradewarden.control import (
    BreakerAction,
    BreakerView,
    Control,
    ControlError,
    ControlNotConfiguredError,
    StateOutcome,
)
from tradewarden.errors import NotFoundError
from tradewarden.guard.state import StateChange, TradingState
from tradewarden.runtime import Runtime
from tradewarden.store import AuditRecord, AuditRepository, Outcome

router = APIRouter(tags=["control"])

_T = TypeVar("_T")
_log = structlog.stdlib.get_logger("tradewarden.api.control")
_TARGET = "trading_state"

_Message = Annotated[
    str, Field(default="", max_length=2000, description="Shown to whoever reads the state.")
]


class HaltBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # A halt is never refused for want of a reason: the seeds post it without a body.
    reason: str = Field(
        default="no reason given",
        min_length=1,
        max_length=500,
        description="Why: stored with the state and written to the audit log.",
    )
    message: _Message = ""


class ResumeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(
        min_length=1, max_length=500, description="Why: stored and audited (required)."
    )
    message: _Message = ""
    to: Literal["ACTIVE", "REDUCING"] = Field(
        default="ACTIVE", description="REDUCING loosens a HALTED only as far as REDUCING."
    )


class BreakerBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=500, description="Why: audited (required).")


class OpenBreakerBody(BreakerBody):
    forced: bool = Field(
        default=True,
        description=(
            "true: FORCED_OPEN, rejecting until an operator closes it; false: OPEN, trying"
            " half-open after control.breaker_timeout_s."
        ),
    )


class StateOut(BaseModel):
    version: int = Field(description="0: nobody ever changed the state (ACTIVE).")
    state: str
    kill_switch_active: bool = Field(description="Whether the state is HALTED.")
    actor: str
    reason: str
    message: str
    changed_at: datetime | None


class ChangeOut(BaseModel):
    changed: bool = Field(description="false: the state already was that (nothing written).")
    state: StateOut
    previous: StateOut
    audited: bool = Field(description="false: stored, but the audit row could not be written.")


class BreakerOut(BaseModel):
    name: str
    state: str
    failure_count: int
    last_failure_time: datetime | None
    opened_at: datetime | None
    remaining_s: float | None = Field(description="Time left OPEN before half-open trials.")
    version: int


class BreakerActionOut(BaseModel):
    name: str
    action: str
    before: BreakerOut | None = Field(description="null: no bot had written this breaker yet.")
    after: BreakerOut
    audited: bool


_BreakerName = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.:\-]{1,200}$")]


def _when(epoch_s: float | None) -> datetime | None:
    return None if epoch_s is None else utc_datetime(epoch_s)


def _state(change: StateChange) -> StateOut:
    return StateOut(
        version=change.version,
        state=change.state.name,
        kill_switch_active=change.state is TradingState.HALTED,
        actor=change.actor,
        reason=change.reason,
        message=change.message,
        changed_at=_when(change.changed_at) if change.version else None,
    )


def _breaker(view: BreakerView) -> BreakerOut:
    return BreakerOut(
        name=view.name,
        state=view.state,
        failure_count=view.failure_count,
        last_failure_time=_when(view.last_failure_time),
        opened_at=_when(view.opened_at),
        remaining_s=view.remaining_s,
        version=view.version,
    )


def _control(runtime: Runtime) -> Control:
    if runtime.control is None:
        raise HTTPException(503, "the control services are not running")
    return runtime.control


@dataclass(frozen=True)
class _Action:
    """One audited attempt: what (``trading.halt``, ...), on what, why, and what was asked."""

    name: str
    target: str
    reason: str
    asked: dict[str, Any]


async def _audit(
    runtime: Runtime,
    request: Request,
    action: _Action,
    *,
    outcome: Outcome,
    details: dict[str, Any],
) -> bool:
    """Write the audit row; return False (logged) when the store cannot take it.

    The change it records is already stored in the back end: a database outage must not
    turn a halt that happened into an error the operator would act on.
    """
    base = audit_context(request, action.reason)
    record = AuditRecord(
        actor=base.actor,
        actor_type=base.actor_type,
        action=action.name,
        outcome=outcome,
        target=action.target,
        reason=action.reason,
        details={**action.asked, **details},
        request_id=base.request_id,
        source_ip=base.source_ip,
    )
    try:
        async with runtime.database.session() as session:
            await AuditRepository(session).append(record, now=utc_datetime(runtime.clock.now()))
            if outcome == "success" and runtime.incidents is not None:  # on their timelines
                await runtime.incidents.record_control(
                    session,
                    action=action.name,
                    target=action.target,
                    by=base.actor,
                    reason=action.reason,
                    details=record.details,
                )
    except (SQLAlchemyError, OSError) as exc:
        _log.error("control action not audited", action=action.name, error=type(exc).__name__)
        return False
    return True


async def _attempt(
    runtime: Runtime, request: Request, action: _Action, run: Callable[[], Awaitable[_T]]
) -> _T:
    """Run ``run``; on a control failure audit it as ``error`` and answer 503/409/404."""
    try:
        return await run()
    except (ControlError, NotFoundError) as exc:
        await _audit(runtime, request, action, outcome="error", details={"error": exc.message})
        if isinstance(exc, NotFoundError):
            status = 404
        elif isinstance(exc, ControlNotConfiguredError):
            status = 409
        else:
            status = 503
        raise HTTPException(status, exc.message) from None


async def _change(
    runtime: Runtime,
    request: Request,
    action: _Action,
    run: Callable[[Control], Awaitable[StateOutcome]],
) -> ChangeOut:
    control = _control(runtime)
    outcome = await _attempt(runtime, request, action, lambda: run(control))
    details = {
        "changed": outcome.changed,
        "from": outcome.previous.state.name,
        "to": outcome.current.state.name,
        "version": outcome.current.version,
        "backend": control.trading.kind,
    }
    audited = await _audit(runtime, request, action, outcome="success", details=details)
    return ChangeOut(
        changed=outcome.changed,
        state=_state(outcome.current),
        previous=_state(outcome.previous),
        audited=audited,
    )


def _actor(request: Request) -> str:
    return audit_context(request).actor


async def _tighten(
    runtime: Runtime, request: Request, body: HaltBody, verb: Literal["halt", "reduce"]
) -> ChangeOut:
    """Halt or reduce (the two changes that only tighten), audited as ``trading.<verb>``."""
    action = _Action(f"trading.{verb}", _TARGET, body.reason, {"message": body.message})

    def run(control: Control) -> Awaitable[StateOutcome]:
        change = control.trading.halt if verb == "halt" else control.trading.reduce
        return change(_actor(request), body.reason, body.message)

    return await _change(runtime, request, action, run)


@router.post("/api/kill-switch", response_model=ChangeOut, summary="Halt trading")
@router.post("/v1/kill-switch", response_model=ChangeOut, summary="Halt trading (versioned)")
async def kill(
    request: Request,
    runtime: RuntimeDep,
    _operator: Operator,
    body: Annotated[HaltBody | None, Body()] = None,
) -> ChangeOut:
    """Halt every bot on the trading-state back end: no new orders, cancels allowed.

    Stored before the answer; latched until a resume. Already HALTED: nothing written
    (``changed`` false). The body is optional (reason "no reason given").
    """
    return await _tighten(runtime, request, body or HaltBody(), "halt")


@router.post("/api/kill-switch/reduce", response_model=ChangeOut, summary="Reduce only")
@router.post("/v1/kill-switch/reduce", response_model=ChangeOut, summary="Reduce only (v1)")
async def reduce(
    request: Request,
    runtime: RuntimeDep,
    _operator: Operator,
    body: Annotated[HaltBody | None, Body()] = None,
) -> ChangeOut:
    """Allow only orders that reduce exposure (REDUCING); a HALTED stays HALTED."""
    return await _tighten(runtime, request, body or HaltBody(), "reduce")


@router.post("/api/kill-switch/resume", response_model=ChangeOut, summary="Resume trading")
@router.post("/v1/kill-switch/resume", response_model=ChangeOut, summary="Resume (versioned)")
async def resume(
    body: ResumeBody, request: Request, runtime: RuntimeDep, _operator: Operator
) -> ChangeOut:
    """Loosen the state to ACTIVE (or a HALTED to REDUCING): the explicit action that
    un-latches the kill switch. ``reason`` is required."""
    target = TradingState[body.to]
    asked = {"message": body.message, "requested": body.to}
    action = _Action("trading.resume", _TARGET, body.reason, asked)
    return await _change(
        runtime,
        request,
        action,
        lambda control: control.trading.resume(
            _actor(request), body.reason, body.message, to=target
        ),
    )


@router.get("/v1/trading/state", response_model=StateOut, summary="The trading state")
async def trading_state(runtime: RuntimeDep, _viewer: Viewer) -> StateOut:
    """Return the stored trading state (503 when the back end cannot be read)."""
    control = _control(runtime)
    try:
        return _state(await control.trading.current())
    except ControlError as exc:
        raise HTTPException(503, exc.message) from None


@router.get(
    "/v1/trading/history", response_model=list[StateOut], summary="The trading state's changes"
)
async def trading_history(
    runtime: RuntimeDep,
    _viewer: Viewer,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[StateOut]:
    """Return the stored changes, newest first (who, why, when)."""
    control = _control(runtime)
    try:
        return [_state(change) for change in await control.trading.history(limit)]
    except ControlError as exc:
        raise HTTPException(503, exc.message) from None


@router.get("/api/status", summary="Trading and health status (the seeds' shape)")
async def api_status(runtime: RuntimeDep, _viewer: Viewer) -> JSONResponse:
    """Return ``risk`` (``killSwitchActive``, ``tradingState``, who, why, when, version)
    and ``health`` (the /status verdict and ``checks``). An unreadable trading state is
    ``stateReadable: false`` with nulls, not a guess: the bots then apply their policy."""
    control = _control(runtime)
    risk: dict[str, Any]
    try:
        change = await control.trading.current()
    except ControlError as exc:
        risk = {
            "killSwitchActive": None,
            "tradingState": None,
            "stateReadable": False,
            "error": exc.message,
        }
    else:
        when = _when(change.changed_at) if change.version else None
        risk = {
            "killSwitchActive": change.state is TradingState.HALTED,
            "tradingState": change.state.name,
            "stateReadable": True,
            "version": change.version,
            "actor": change.actor,
            "reason": change.reason,
            "message": change.message,
            "changedAt": when.isoformat(timespec="milliseconds") if when else None,
        }
    risk["backend"] = control.trading.kind
    report = await runtime.readiness.report()
    body = {
        "status": report.verdict,
        "version": __version__,
        "risk": risk,
        "health": {
            "status": report.verdict,
            "checks": {check.name: check.as_dict() for check in report.checks},
        },
    }
    return JSONResponse(body)


@router.get("/api/circuit-breakers", response_model=list[BreakerOut], summary="The shared breakers")
@router.get(
    "/v1/circuit-breakers", response_model=list[BreakerOut], summary="The shared breakers (v1)"
)
async def breakers(runtime: RuntimeDep, _viewer: Viewer) -> list[BreakerOut]:
    """Return every breaker with a hash in Redis (409 without Redis, 503 when down)."""
    control = _control(runtime)
    try:
        return [_breaker(view) for view in await control.breakers.all()]
    except ControlNotConfiguredError as exc:
        raise HTTPException(409, exc.message) from None
    except ControlError as exc:
        raise HTTPException(503, exc.message) from None


async def _breaker_action(
    runtime: Runtime,
    request: Request,
    name: str,
    verb: BreakerAction,
    reason: str,
    *,
    forced: bool = True,
) -> BreakerActionOut:
    control = _control(runtime)
    asked: dict[str, Any] = {"forced": forced} if verb == "open" else {}
    action = _Action(f"breaker.{verb}", name, reason, asked)
    before, after = await _attempt(
        runtime, request, action, lambda: control.breakers.act(name, verb, forced=forced)
    )
    details = {"from": before.state if before else None, "to": after.state}
    audited = await _audit(runtime, request, action, outcome="success", details=details)
    return BreakerActionOut(
        name=name,
        action=verb,
        before=_breaker(before) if before else None,
        after=_breaker(after),
        audited=audited,
    )


@router.post("/api/circuit-breakers/{name}/open", response_model=BreakerActionOut)
@router.post("/v1/circuit-breakers/{name}/open", response_model=BreakerActionOut)
async def open_breaker(
    name: _BreakerName,
    body: OpenBreakerBody,
    request: Request,
    runtime: RuntimeDep,
    _operator: Operator,
) -> BreakerActionOut:
    """Open the breaker in every bot (FORCED_OPEN unless ``forced`` is false; audited)."""
    return await _breaker_action(runtime, request, name, "open", body.reason, forced=body.forced)


@router.post("/api/circuit-breakers/{name}/close", response_model=BreakerActionOut)
@router.post("/v1/circuit-breakers/{name}/close", response_model=BreakerActionOut)
async def close_breaker(
    name: _BreakerName,
    body: BreakerBody,
    request: Request,
    runtime: RuntimeDep,
    _operator: Operator,
) -> BreakerActionOut:
    """Close the breaker in every bot and clear its failure count (audited)."""
    return await _breaker_action(runtime, request, name, "close", body.reason)


@router.post("/api/circuit-breakers/{name}/reset", response_model=BreakerActionOut)
@router.post("/v1/circuit-breakers/{name}/reset", response_model=BreakerActionOut)
async def reset_breaker(
    name: _BreakerName,
    body: BreakerBody,
    request: Request,
    runtime: RuntimeDep,
    _operator: Operator,
) -> BreakerActionOut:
    """Reset the breaker: CLOSED with the count cleared, as ``close`` (the library's
    ``reset() = close()``); audited as ``breaker.reset``."""
    return await _breaker_action(runtime, request, name, "reset", body.reason)
