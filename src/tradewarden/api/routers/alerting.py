"""Alerts in and silences, in Alertmanager's API v2 shape, plus the warden's own paths.

- ``POST /api/v2/alerts`` / ``GET /api/v2/alerts``: Prometheus's ``alerting.alertmanagers``
  can point at the warden (an API key as bearer token or as the basic-auth password).
- ``POST /v1/integrations/alertmanager``: Alertmanager's webhook payload (version 4).
- ``POST /v1/webhooks/alerts``: a generic JSON alert (or a list of them).
- ``GET/POST /api/v2/silences``, ``GET/DELETE /api/v2/silence/{id}``, and ``/v1/silences``.

A malformed payload is refused whole (400, every bad field listed; 413 past the body
limit): nothing is stored half-way. Writing needs the operator role; silences are audited.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from tradewarden._version import __version__
from tradewarden.alerting import Alert, Alerting, MatcherError, Source, parse_matchers
from tradewarden.alerting._silences import (
    Silence,
    SilenceError,
    matchers_from_api,
    matchers_to_api,
)
from tradewarden.api._deps import RuntimeDep, Viewer, audit_context
from tradewarden.api._errors import error_response
from tradewarden.auth import Principal, Role
from tradewarden.errors import AuthError, PermissionDeniedError
from tradewarden.series import Labels

router = APIRouter(tags=["alerting"])

_LABEL_NAME = r"^[a-zA-Z_][a-zA-Z0-9_]*$"
LabelSet = dict[Annotated[str, Field(pattern=_LABEL_NAME, max_length=200)], str]


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class PostableAlert(_Body):
    """Alertmanager API v2's ``postableAlert``."""

    labels: Annotated[LabelSet, Field(min_length=1)]
    annotations: dict[str, str] = {}
    startsAt: AwareDatetime | None = None  # noqa: N815 - the wire format's name
    endsAt: AwareDatetime | None = None  # noqa: N815
    generatorURL: str = Field(default="", max_length=2000)  # noqa: N815


class WebhookAlert(PostableAlert):
    """An alert of Alertmanager's webhook payload."""

    status: Literal["firing", "resolved"]
    fingerprint: str = ""


class WebhookPayload(_Body):
    """Alertmanager's webhook payload, version 4."""

    version: Literal["4"]
    groupKey: str = ""  # noqa: N815
    status: Literal["firing", "resolved"]
    receiver: str = ""
    groupLabels: dict[str, str] = {}  # noqa: N815
    commonLabels: dict[str, str] = {}  # noqa: N815
    commonAnnotations: dict[str, str] = {}  # noqa: N815
    externalURL: str = ""  # noqa: N815
    alerts: list[WebhookAlert]


class GenericAlert(PostableAlert):
    """The generic webhook's alert: Alertmanager's fields and a ``status``."""

    status: Literal["firing", "resolved"] = "firing"


class PostableSilence(_Body):
    """Alertmanager API v2's ``postableSilence``."""

    id: str | None = None
    matchers: Annotated[list[dict[str, Any]], Field(min_length=1)]
    startsAt: AwareDatetime | None = None  # noqa: N815
    endsAt: AwareDatetime  # noqa: N815
    createdBy: str = Field(default="", max_length=200)  # noqa: N815
    comment: str = Field(min_length=1, max_length=10_000)


_ALERTS = TypeAdapter(list[PostableAlert])
_GENERIC = TypeAdapter(GenericAlert | list[GenericAlert])


def _credential(request: Request) -> str:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic":
        try:
            user, _, password = base64.b64decode(value.strip()).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise AuthError("invalid basic credentials") from None
        return password or user
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if api_key := request.headers.get("x-api-key"):
        return api_key.strip()
    raise AuthError("authentication required (an API key as bearer token or basic password)")


async def _operator(request: Request, runtime: RuntimeDep) -> Principal:
    """An API key or token as bearer or basic credentials, of the operator role or above."""
    principal = await runtime.auth.authenticate(_credential(request))
    request.state.principal = principal
    if not principal.role.allows(Role.OPERATOR):
        raise PermissionDeniedError(f"this needs the {Role.OPERATOR.label} role")
    return principal


async def _viewer(request: Request, runtime: RuntimeDep) -> Principal:
    principal = await runtime.auth.authenticate(_credential(request))
    request.state.principal = principal
    return principal


InputCaller = Annotated[Principal, Depends(_operator)]
Reader = Annotated[Principal, Depends(_viewer)]


def _alerting(runtime: Any) -> Alerting:
    alerting: Alerting | None = runtime.alerting
    if alerting is None:
        raise HTTPException(503, "alerting does not run in this process")
    return alerting


async def _json(request: Request) -> Any:
    try:
        return json.loads(await request.body())
    except (ValueError, UnicodeDecodeError) as exc:
        raise _BadRequestError(f"the body is not JSON: {exc}", []) from None


class _BadRequestError(Exception):
    def __init__(self, message: str, fields: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.fields = fields


def _invalid(exc: ValidationError) -> _BadRequestError:
    fields = [
        {
            "field": ".".join(str(p) for p in ("body", *e["loc"]) if p != "[key]"),
            "message": e["msg"],
        }
        for e in exc.errors(include_input=False)
    ]
    names = ", ".join(sorted({f["field"] for f in fields}))
    return _BadRequestError(f"invalid alerts: {names}", fields)


def _ms(at: datetime | None) -> int | None:
    if at is None or at.year <= 1:  # Go's zero time: not set
        return None
    return int(at.timestamp() * 1000)


def _alert(item: PostableAlert, source: Source, *, resolved_now: int | None = None) -> Alert:
    starts, ends = _ms(item.startsAt), _ms(item.endsAt)
    if resolved_now is not None and ends is None:
        ends = resolved_now
    return Alert(
        labels=Labels.of(item.labels),
        annotations=dict(item.annotations),
        starts_at_ms=starts or 0,
        ends_at_ms=ends,
        generator_url=item.generatorURL,
        source=source,
    )


def _check_times(alerts: list[Alert], prefix: str) -> None:
    bad = [
        {"field": f"body.{prefix}{i}.endsAt", "message": "the end is before the start"}
        for i, a in enumerate(alerts)
        if a.ends_at_ms is not None and a.starts_at_ms and a.ends_at_ms < a.starts_at_ms
    ]
    if bad:
        raise _BadRequestError("invalid alerts: the end is before the start", bad)


async def _ingest(request: Request, runtime: Any, build: Any) -> Response:
    alerting = _alerting(runtime)
    try:
        alerts = build(await _json(request), int(runtime.clock.now() * 1000))
    except _BadRequestError as exc:
        return error_response(request, 400, str(exc), fields=exc.fields)
    except ValidationError as exc:
        bad = _invalid(exc)
        return error_response(request, 400, str(bad), fields=bad.fields)
    await alerting.dispatcher.ingest(alerts)
    return JSONResponse({"status": "success", "received": len(alerts)})


@router.post("/api/v2/alerts", summary="Post alerts (Alertmanager API v2)")
async def post_alerts(request: Request, runtime: RuntimeDep, _caller: InputCaller) -> Response:
    """Accept Prometheus's alerts as Alertmanager does."""

    def build(body: Any, _now: int) -> list[Alert]:
        alerts = [_alert(item, Source.PROMETHEUS) for item in _ALERTS.validate_python(body)]
        _check_times(alerts, "")
        return alerts

    return await _ingest(request, runtime, build)


@router.post("/v1/integrations/alertmanager", summary="Alertmanager's webhook (version 4)")
async def alertmanager_webhook(
    request: Request, runtime: RuntimeDep, _caller: InputCaller
) -> Response:
    """Accept an Alertmanager webhook notification; resolved alerts end at their endsAt."""

    def build(body: Any, now: int) -> list[Alert]:
        payload = WebhookPayload.model_validate(body)
        alerts = [
            _alert(a, Source.ALERTMANAGER, resolved_now=now if a.status == "resolved" else None)
            for a in payload.alerts
        ]
        _check_times(alerts, "alerts.")
        return alerts

    return await _ingest(request, runtime, build)


@router.post("/v1/webhooks/alerts", summary="A generic JSON alert or list of alerts")
async def generic_webhook(request: Request, runtime: RuntimeDep, _caller: InputCaller) -> Response:
    """Accept ``{"labels": {...}, "annotations": {...}, "status": "firing"|"resolved"}``."""

    def build(body: Any, now: int) -> list[Alert]:
        parsed = _GENERIC.validate_python(body)
        items = parsed if isinstance(parsed, list) else [parsed]
        alerts = [
            _alert(a, Source.WEBHOOK, resolved_now=now if a.status == "resolved" else None)
            for a in items
        ]
        _check_times(alerts, "")
        return alerts

    return await _ingest(request, runtime, build)


def _iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    return (
        datetime.fromtimestamp(ms / 1000, UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


@router.get("/api/v2/alerts", summary="The alerts (Alertmanager API v2)")
async def get_alerts(
    runtime: RuntimeDep,
    _caller: Reader,
    active: bool = True,
    silenced: bool = True,
    inhibited: bool = True,
    filter: Annotated[list[str] | None, Query()] = None,  # noqa: A002 - Alertmanager's name
) -> list[dict[str, Any]]:
    """Every unresolved alert with its receivers and whether it is silenced or inhibited;
    ``filter`` takes matchers (``filter=bot="a"``), as Alertmanager's."""
    alerting = _alerting(runtime)
    try:
        wanted = [m for text in filter or [] for m in parse_matchers(text)]
    except MatcherError as exc:
        raise HTTPException(400, f"filter: {exc}") from None
    out = []
    muted_by = alerting.dispatcher.muting()
    for alert in alerting.dispatcher.active():
        if not all(m.matches(alert.labels.get(m.name)) for m in wanted):
            continue
        silenced_by, inhibited_by = muted_by(alert)
        suppressed = bool(silenced_by) or inhibited_by is not None
        if (silenced_by and not silenced) or (inhibited_by and not inhibited):
            continue
        if not suppressed and not active:
            continue
        out.append(
            {
                "labels": dict(alert.labels),
                "annotations": dict(alert.annotations),
                "startsAt": _iso(alert.starts_at_ms),
                "endsAt": _iso(alert.ends_at_ms),
                "updatedAt": _iso(alert.updated_at_ms),
                "generatorURL": alert.generator_url,
                "fingerprint": alert.fingerprint,
                "receivers": [
                    {"name": m.receiver or "default"} for m in alerting.router.route(alert)
                ],
                "status": {
                    "state": "suppressed" if suppressed else "active",
                    "silencedBy": silenced_by,
                    "inhibitedBy": [inhibited_by] if inhibited_by else [],
                },
            }
        )
    return out


@router.get("/api/v2/alerts/groups", summary="Alert groups (Alertmanager API v2)")
async def get_groups(runtime: RuntimeDep, _caller: Reader) -> list[dict[str, Any]]:
    """Every aggregation group: its labels, receiver and unresolved alerts."""
    alerting = _alerting(runtime)
    dispatcher = alerting.dispatcher
    now = dispatcher.now_ms()
    muted_by = dispatcher.muting()
    routes = {r.id: r for r in alerting.router.root.walk()}
    out = []
    for key, group in sorted(dispatcher.groups.items()):
        route = routes.get(group.route_id)
        members = [dispatcher.alerts[fp] for fp in sorted(group.members) if fp in dispatcher.alerts]
        alerts = []
        for alert in members:
            if alert.resolved(now):
                continue
            silenced_by, inhibited_by = muted_by(alert)
            suppressed = bool(silenced_by) or inhibited_by is not None
            alerts.append(
                {
                    "labels": dict(alert.labels),
                    "annotations": dict(alert.annotations),
                    "startsAt": _iso(alert.starts_at_ms),
                    "endsAt": _iso(alert.ends_at_ms),
                    "updatedAt": _iso(alert.updated_at_ms),
                    "generatorURL": alert.generator_url,
                    "fingerprint": alert.fingerprint,
                    "status": {
                        "state": "suppressed" if suppressed else "active",
                        "silencedBy": silenced_by,
                        "inhibitedBy": [inhibited_by] if inhibited_by else [],
                    },
                }
            )
        out.append(
            {
                "labels": group.labels,
                "receiver": {"name": (route.receiver if route else None) or "default"},
                "alerts": alerts,
                "groupKey": key,
                "nextFlushAt": _iso(group.next_flush_ms),
            }
        )
    return out


@router.get("/api/v2/status", summary="Status (Alertmanager API v2)")
async def get_status(runtime: RuntimeDep, _caller: Reader) -> dict[str, Any]:
    """What Alertmanager clients (amtool, Grafana's data source) ask first."""
    started = datetime.fromtimestamp(runtime.started_at or 0, UTC)
    return {
        "cluster": {"status": "disabled", "peers": [], "name": ""},
        "versionInfo": {
            "version": __version__,
            "branch": "",
            "revision": "",
            "buildUser": "",
            "buildDate": "",
            "goVersion": "",
        },
        "config": {"original": ""},
        "uptime": started.isoformat().replace("+00:00", "Z"),
    }


def _silence_out(silence: Silence, now_ms: int) -> dict[str, Any]:
    return {
        "id": silence.id,
        "status": {"state": silence.state(now_ms).value},
        "updatedAt": _iso(silence.updated_at_ms),
        "matchers": matchers_to_api(silence.matchers),
        "startsAt": _iso(silence.starts_at_ms),
        "endsAt": _iso(silence.ends_at_ms),
        "createdBy": silence.created_by,
        "comment": silence.comment,
    }


async def _list_silences(runtime: Any) -> list[dict[str, Any]]:
    alerting = _alerting(runtime)
    await alerting.silences.refresh()
    now = alerting.silences.now_ms()
    return [_silence_out(s, now) for s in alerting.silences.all()]


async def _post_silence(request: Request, runtime: Any, principal: Principal) -> Silence | Response:
    alerting = _alerting(runtime)
    try:
        body = PostableSilence.model_validate(await _json(request))
        matchers = matchers_from_api(body.matchers)
        ends = _ms(body.endsAt)
        silence = await alerting.silences.put(
            matchers=matchers,
            starts_at_ms=_ms(body.startsAt),
            ends_at_ms=ends if ends is not None else 0,
            created_by=body.createdBy or principal.actor,
            comment=body.comment,
            audit=audit_context(request, body.comment[:500]),
            silence_id=body.id or None,
        )
    except _BadRequestError as exc:
        return error_response(request, 400, str(exc), fields=exc.fields)
    except ValidationError as exc:
        bad = _invalid(exc)
        return error_response(
            request, 400, str(bad).replace("alerts", "silence"), fields=bad.fields
        )
    except (SilenceError, KeyError) as exc:
        message = str(exc).strip("'")
        field = message.partition(":")[0] if isinstance(exc, SilenceError) else "matchers"
        return error_response(
            request, 400, message, fields=[{"field": f"body.{field}", "message": message}]
        )
    return silence


async def _operator_role(request: Request, runtime: RuntimeDep) -> Principal:
    return await _operator(request, runtime)


SilenceWriter = Annotated[Principal, Depends(_operator_role)]


@router.get("/api/v2/silences", summary="Silences (Alertmanager API v2)")
async def get_silences(runtime: RuntimeDep, _caller: Reader) -> list[dict[str, Any]]:
    """Every silence, expired ones too (history)."""
    return await _list_silences(runtime)


@router.post("/api/v2/silences", summary="Create or update a silence (Alertmanager API v2)")
async def post_silence(request: Request, runtime: RuntimeDep, caller: SilenceWriter) -> Response:
    """Return ``{"silenceID": ...}`` as Alertmanager does."""
    result = await _post_silence(request, runtime, caller)
    if isinstance(result, Response):
        return result
    return JSONResponse({"silenceID": result.id})


@router.get("/api/v2/silence/{silence_id}", summary="One silence (Alertmanager API v2)")
async def get_silence(silence_id: str, runtime: RuntimeDep, _caller: Reader) -> dict[str, Any]:
    """Return one silence (404 when unknown)."""
    alerting = _alerting(runtime)
    await alerting.silences.refresh()
    return _silence_out(alerting.silences.get(silence_id), alerting.silences.now_ms())


@router.delete("/api/v2/silence/{silence_id}", summary="Expire a silence (Alertmanager API v2)")
async def delete_silence(
    silence_id: str, request: Request, runtime: RuntimeDep, _caller: SilenceWriter
) -> Response:
    """Expire the silence now; it is kept for history."""
    alerting = _alerting(runtime)
    await alerting.silences.expire(silence_id, audit=audit_context(request, "expired"))
    return Response(status_code=200)


@router.get("/v1/silences", summary="Silences")
async def v1_silences(runtime: RuntimeDep, _caller: Viewer) -> list[dict[str, Any]]:
    """Every silence, newest change first."""
    return await _list_silences(runtime)


@router.post("/v1/silences", summary="Create a silence", status_code=201)
async def v1_post_silence(request: Request, runtime: RuntimeDep, caller: SilenceWriter) -> Response:
    """Create (or, with ``id``, replace) a silence; return it."""
    result = await _post_silence(request, runtime, caller)
    if isinstance(result, Response):
        return result
    alerting = _alerting(runtime)
    return JSONResponse(_silence_out(result, alerting.silences.now_ms()), status_code=201)


@router.delete("/v1/silences/{silence_id}", summary="Expire a silence")
async def v1_delete_silence(
    silence_id: str, request: Request, runtime: RuntimeDep, _caller: SilenceWriter
) -> dict[str, Any]:
    """Expire the silence now; return it."""
    alerting = _alerting(runtime)
    reason = request.query_params.get("reason") or "expired"
    silence = await alerting.silences.expire(silence_id, audit=audit_context(request, reason))
    return _silence_out(silence, alerting.silences.now_ms())
