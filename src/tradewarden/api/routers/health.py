"""Liveness and readiness."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from tradewarden._version import __version__
from tradewarden.api._deps import RuntimeDep, Viewer
from tradewarden.health import check_dependencies

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
    report = await check_dependencies(runtime)
    body: dict[str, Any] = {
        "status": report.verdict,
        "version": __version__,
        "uptime_s": round(runtime.clock.now() - runtime.started_at, 3),
        "dependencies": {check.name: check.as_dict() for check in report.checks},
    }
    return JSONResponse(body, status_code=503 if report.verdict == "down" else 200)
