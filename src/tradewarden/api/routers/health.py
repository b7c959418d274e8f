"""Liveness and readiness."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from tradewarden._version import __version__
from tradewarden.api._deps import RuntimeDep, Viewer
from tradewarden.clock import utc_datetime

router = APIRouter(tags=["health"])

_OK = {"status": "ok"}


@router.get("/health", summary="Liveness: the process serves requests")
@router.get("/v1/health", summary="Liveness (versioned path)")
async def health() -> dict[str, str]:
    """Return ``{"status":"ok"}`` while the process serves requests."""
    return _OK


@router.get("/status", summary="Readiness with a verdict per dependency")
@router.get("/v1/status", summary="Readiness (versioned path)")
async def status(runtime: RuntimeDep, _caller: Viewer) -> JSONResponse:
    """Check every dependency; answer 503 when a critical one is down."""
    report = await runtime.readiness.report()
    body: dict[str, Any] = {
        "status": report.verdict,
        "version": __version__,
        "uptime_s": round(runtime.clock.now() - runtime.started_at, 3),
        "checked_at": utc_datetime(report.checked_at).isoformat(timespec="milliseconds"),
        "trading_state": report.trading_state,
        "dependencies": {check.name: check.as_dict() for check in report.checks},
    }
    return JSONResponse(body, status_code=503 if report.verdict == "down" else 200)
