"""Alerts and rules: the warden's own JSON (``/v1/alerts``), Prometheus's HTTP API shape
(``/api/v1/alerts``, ``/api/v1/rules``) for Grafana and existing scripts, and the reload
of the rule files (admin, audited)."""

from __future__ import annotations

import dataclasses
import math
from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from tradewarden.api._deps import Admin, RuntimeDep, Viewer, audit_context
from tradewarden.api._errors import error_response
from tradewarden.clock import utc_datetime
from tradewarden.rules import (
    Alert,
    AlertingRule,
    AlertState,
    Group,
    RecordingRule,
    RuleLoadError,
)
from tradewarden.rules._gofmt import go_float_e
from tradewarden.runtime import Runtime
from tradewarden.store import AuditRepository

router = APIRouter(tags=["rules"])


class AlertOut(BaseModel):
    alertname: str
    state: str
    labels: dict[str, str]
    annotations: dict[str, str]
    value: float | None
    active_at: datetime
    fired_at: datetime | None
    resolved_at: datetime | None
    last_evaluation: datetime | None
    rule: str
    group: str
    file: str


def _dt(ms: int | None) -> datetime | None:
    return None if ms is None else utc_datetime(ms / 1000)


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


@router.get("/v1/alerts", response_model=list[AlertOut], summary="Alerts and their state")
async def list_alerts(
    runtime: RuntimeDep,
    _viewer: Viewer,
    state: Literal["pending", "firing", "inactive"] | None = Query(
        default=None, description="Only alerts in this state (inactive: resolved, kept 15 m)"
    ),
    include_resolved: bool = Query(default=False, description="Also resolved alerts"),
) -> list[AlertOut]:
    """Return the pending and firing alerts (and the recently resolved ones on request)."""
    out: list[AlertOut] = []
    for alert, rule, group in runtime.rules.alerts():
        if state is not None and alert.state.value != state:
            continue
        if state is None and alert.state is AlertState.INACTIVE and not include_resolved:
            continue
        out.append(
            AlertOut(
                alertname=alert.name,
                state=alert.state.value,
                labels=alert.labels.to_dict(),
                annotations=dict(alert.annotations),
                value=_finite(alert.value),
                active_at=utc_datetime(alert.active_at_ms / 1000),
                fired_at=_dt(alert.fired_at_ms),
                resolved_at=_dt(alert.resolved_at_ms),
                last_evaluation=_dt(alert.last_eval_ms),
                rule=rule.name,
                group=group.name,
                file=group.spec.file,
            )
        )
    return out


# -- Prometheus's HTTP API ---------------------------------------------------------------


def rfc3339(ms: int | None) -> str:
    """Go's ``time.RFC3339Nano`` in UTC; the zero time when never."""
    if ms is None:
        return "0001-01-01T00:00:00Z"
    moment = datetime.fromtimestamp(ms // 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    fraction = f"{ms % 1000:03d}".rstrip("0")
    return f"{moment}.{fraction}Z" if fraction else f"{moment}Z"


def _prom_alert(alert: Alert) -> dict[str, Any]:
    out: dict[str, Any] = {
        "labels": alert.labels.to_dict(),
        "annotations": dict(alert.annotations),
        "state": alert.state.value,
        "activeAt": rfc3339(alert.active_at_ms),
        "value": go_float_e(alert.value),
    }
    if alert.keep_firing_since_ms is not None:
        out["keepFiringSince"] = rfc3339(alert.keep_firing_since_ms)
    return out


def _active(rule: AlertingRule) -> list[Alert]:
    return [a for a in rule.alerts() if a.state is not AlertState.INACTIVE]


def _success(data: dict[str, Any]) -> JSONResponse:
    return JSONResponse({"status": "success", "data": data})


@router.get("/api/v1/alerts", summary="Active alerts (Prometheus's HTTP API)")
async def prometheus_alerts(runtime: RuntimeDep, _viewer: Viewer) -> JSONResponse:
    """Return ``{"status": "success", "data": {"alerts": [...]}}`` as Prometheus does."""
    alerts = [
        _prom_alert(alert)
        for group in runtime.rules.groups()
        for rule in group.alerting_rules()
        for alert in _active(rule)
    ]
    return _success({"alerts": alerts})


def _rule_state(rule: AlertingRule) -> str:
    states = {a.state for a in _active(rule)}
    if AlertState.FIRING in states:
        return "firing"
    return "pending" if AlertState.PENDING in states else "inactive"


def _prom_rule(rule: AlertingRule | RecordingRule) -> dict[str, Any]:
    common = {
        "name": rule.name,
        "query": rule.spec.expr,
        "labels": dict(rule.spec.labels),
        "health": rule.health.value,
        "evaluationTime": rule.eval_duration_s,
        "lastEvaluation": rfc3339(rule.last_eval_ms),
    }
    if rule.last_error:
        common["lastError"] = rule.last_error
    if isinstance(rule, RecordingRule):
        return {**common, "type": "recording"}
    return {
        "state": _rule_state(rule),
        **common,
        "duration": rule.spec.for_ms / 1000,
        "keepFiringFor": rule.spec.keep_firing_for_ms / 1000,
        "annotations": dict(rule.spec.annotations),
        "alerts": [_prom_alert(a) for a in _active(rule)],
        "type": "alerting",
    }


def _prom_group(group: Group, kind: str | None) -> dict[str, Any]:
    rules = [
        _prom_rule(rule)
        for rule in group.rules
        if kind is None or (kind == "alert") == isinstance(rule, AlertingRule)
    ]
    return {
        "name": group.name,
        "file": group.spec.file,
        "rules": rules,
        "interval": group.interval_ms / 1000,
        "limit": group.spec.limit,
        "evaluationTime": group.eval_duration_s,
        "lastEvaluation": rfc3339(group.last_eval_ms),
    }


@router.get("/api/v1/rules", summary="Rule groups and their health (Prometheus's HTTP API)")
async def prometheus_rules(
    runtime: RuntimeDep,
    _viewer: Viewer,
    rule_type: str | None = Query(default=None, alias="type", description="alert or record"),
) -> JSONResponse:
    """Return ``{"status": "success", "data": {"groups": [...]}}`` as Prometheus does."""
    kind = (rule_type or "").lower() or None
    if kind not in (None, "alert", "record"):
        return JSONResponse(
            {
                "status": "error",
                "errorType": "bad_data",
                "error": f'invalid query parameter type="{rule_type}"',
            },
            status_code=400,
        )
    return _success({"groups": [_prom_group(g, kind) for g in runtime.rules.groups()]})


# -- reload ------------------------------------------------------------------------------


class RulesReloadOut(BaseModel):
    groups: int
    rules: int
    files: list[str]


async def _audit(
    runtime: Runtime,
    request: Request,
    admin: Any,
    outcome: Literal["success", "error"],
    details: dict[str, Any],
) -> None:
    base = audit_context(request)
    record = dataclasses.replace(
        base,
        actor=admin.actor,
        actor_type=admin.kind,
        action="rules.reload",
        outcome=outcome,
        target=str(runtime.config_path) if runtime.config_path else None,
        details=details,
    )
    async with runtime.database.session() as session:
        await AuditRepository(session).append(record, now=utc_datetime(runtime.clock.now()))


@router.post(
    "/v1/admin/rules/reload",
    response_model=RulesReloadOut,
    summary="Reload the rule files",
    responses={422: {"description": "A rule file is invalid: each problem with file and rule"}},
    tags=["admin"],
)
async def reload_rules(request: Request, admin: Admin, runtime: RuntimeDep) -> Any:
    """Read the rule files again and apply them (audited); any invalid file is a 422 that
    lists every problem (file, line, group, rule) and changes nothing."""
    try:
        groups = await runtime.reload_rules()
    except RuleLoadError as exc:
        problems = [p.to_dict() | {"field": p.file} for p in exc.problems]
        await _audit(runtime, request, admin, "error", {"problems": problems})
        message = f"{len(problems)} problem(s) in the rule files; the rules in force are kept"
        return error_response(request, 422, message, fields=problems)
    result = RulesReloadOut(
        groups=len(groups),
        rules=sum(len(g.rules) for g in groups),
        files=sorted({g.file for g in groups}),
    )
    await _audit(runtime, request, admin, "success", result.model_dump())
    return result
