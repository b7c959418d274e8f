"""The service's own metrics, in the Prometheus text format."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from tradewarden.api._deps import authenticate
from tradewarden.runtime import Runtime

router = APIRouter(tags=["metrics"])


async def _maybe_authenticate(request: Request) -> None:
    runtime: Runtime = request.app.state.runtime
    if runtime.config.server.metrics_require_auth:
        await authenticate(request, runtime)


@router.get("/metrics", dependencies=[Depends(_maybe_authenticate)], summary="Prometheus metrics")
async def metrics(request: Request) -> Response:
    """Return the registry in the Prometheus text exposition format."""
    runtime: Runtime = request.app.state.runtime
    return Response(generate_latest(runtime.registry), media_type=CONTENT_TYPE_LATEST)
