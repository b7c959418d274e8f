"""KPIs of a period and the weekly review (viewer).

``GET /v1/kpis?from=&to=`` returns every KPI of the window (times as RFC 3339 or Unix
seconds; default the last 7 days; at most 366 days) with its target and whether it is
met, missed or has no data. ``GET /v1/kpis/weekly-review?week=2026-W48`` returns seed
004's weekly health check of an ISO week as Markdown (``format=json`` wraps it in JSON;
default week: the last complete one). Both only read.
"""

from __future__ import annotations

import math
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response

from tradewarden.api._deps import RuntimeDep, Viewer
from tradewarden.clock import utc_datetime
from tradewarden.kpis import (
    DurationStat,
    Kpis,
    KpiService,
    RatioStat,
    WindowError,
    previous_week,
    render_weekly_review,
    week_window,
    window_of,
)
from tradewarden.runtime import Runtime

router = APIRouter(prefix="/v1/kpis", tags=["kpis"])

_TIME_HELP = "RFC 3339 (2026-11-23T00:00:00Z) or Unix seconds."


def _invalid(field: str, message: str) -> RequestValidationError:
    return RequestValidationError(
        [{"loc": ("query", field), "msg": message, "type": "value_error"}]
    )


def _parse_time(text: str | None, field: str) -> datetime | None:
    if text is None or not text.strip():
        return None
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        if not math.isfinite(seconds) or abs(seconds) > 1e11:
            raise _invalid(field, f"{text!r} is not a time")
        return utc_datetime(seconds)
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise _invalid(field, f"{text!r} is neither RFC 3339 nor Unix seconds") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _service(runtime: Runtime) -> KpiService:
    return runtime.kpis.service


def _duration(stat: DurationStat) -> dict[str, Any]:
    return asdict(stat)


def _ratio(stat: RatioStat) -> dict[str, Any]:
    return {"numerator": stat.numerator, "denominator": stat.denominator, "ratio": stat.ratio}


def kpis_json(kpis: Kpis) -> dict[str, Any]:
    """Return the KPIs as the API answers them."""
    by_name = {k.name: k for k in kpis.headline}
    return {
        "window": {"from": kpis.window.start.isoformat(), "to": kpis.window.end.isoformat()},
        "computed_at": kpis.now.isoformat(),
        "kpis": [
            {
                "name": k.name,
                "value": k.value,
                "unit": k.unit,
                "target": k.target,
                "comparison": k.comparison,
                "samples": k.samples,
                "status": k.status,
            }
            for k in kpis.headline
        ],
        "incidents": {**asdict(kpis.incidents), "by_severity": dict(kpis.incidents.by_severity)},
        "mttd": {s: _duration(v) for s, v in kpis.mttd.items()},
        "mtta": {s: _duration(v) for s, v in kpis.mtta.items()},
        "mttr": {s: _duration(v) for s, v in kpis.mttr.items()},
        "p0p1_resolved_within_2h": _ratio(kpis.p0p1_resolved_within_2h),
        "alert_noise": _ratio(kpis.alert_noise),
        "ack_within_5m": _ratio(kpis.ack_within_5m),
        "alerts": {"notified": kpis.alerts_notified, "unresolved": kpis.alerts_unresolved},
        "availability": [
            {
                "monitor": name,
                "ratio": a.ratio,
                "available_s": a.available_s,
                "down_s": a.down_s,
                "excluded_s": a.excluded_s,
                "flips": a.flips,
                "target": by_name[f"availability:{name}"].target,
                "status": by_name[f"availability:{name}"].status,
            }
            for name, a in kpis.availability.items()
        ],
        "noisiest_alerts": [
            {"alertname": n.alertname, "notifications": n.notifications} for n in kpis.noisiest
        ],
    }


@router.get("")
async def get_kpis(
    runtime: RuntimeDep,
    _viewer: Viewer,
    start: Annotated[str | None, Query(alias="from", description=_TIME_HELP)] = None,
    end: Annotated[str | None, Query(alias="to", description=_TIME_HELP)] = None,
) -> dict[str, Any]:
    """Return the KPIs of a window (default: the last 7 days)."""
    service = _service(runtime)
    now = utc_datetime(runtime.clock.now())
    try:
        window = window_of(_parse_time(start, "from"), _parse_time(end, "to"), now)
    except WindowError as exc:
        raise _invalid(exc.field, exc.message) from None
    return kpis_json(await service.compute(window))


@router.get("/weekly-review", response_model=None)
async def weekly_review(
    runtime: RuntimeDep,
    _viewer: Viewer,
    week: Annotated[
        str | None, Query(description="ISO week (2026-W48); default: the last complete one.")
    ] = None,
    output: Annotated[Literal["markdown", "json"], Query(alias="format")] = "markdown",
) -> Response:
    """Return seed 004's weekly health check of an ISO week, filled from the numbers."""
    service = _service(runtime)
    name = week or previous_week(utc_datetime(runtime.clock.now()))
    try:
        window = week_window(name)
    except WindowError as exc:
        raise _invalid(exc.field, exc.message) from None
    report = await service.report(window)
    markdown = render_weekly_review(report, name.strip())
    if output == "json":
        return JSONResponse(
            {
                "week": name.strip(),
                "from": window.start.isoformat(),
                "to": window.end.isoformat(),
                "markdown": markdown,
                "kpis": kpis_json(report.kpis),
            }
        )
    return Response(markdown, media_type="text/markdown; charset=utf-8")
