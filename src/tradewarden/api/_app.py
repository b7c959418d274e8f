"""The API app factory and its lifespan."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse

from tradewarden._version import __version__
from tradewarden.api._errors import install_error_handlers
from tradewarden.api._middleware import BodyLimitMiddleware, RequestContextMiddleware
from tradewarden.api.routers import (
    admin,
    admin_metrics,
    alerting,
    auth,
    control,
    escalation,
    health,
    heartbeats,
    incidents,
    kpis,
    maintenance,
    metrics,
    monitors,
    notifications,
    query,
    queues,
    rules,
    runbooks,
)
from tradewarden.runtime import FirstAdmin, Runtime

__all__ = ["create_app"]

_QUIET_PATHS = frozenset({"/health", "/v1/health", "/metrics"})
# Tracing goes through opentelemetry-instrumentation-fastapi with an explicit provider
# (telemetry/_tracing.py). Recent FastAPI releases also trace natively through the global
# provider: off, or every request would pay for a second, unused set of spans.
_NATIVE_TELEMETRY_OFF: dict[str, Any] = (
    {"telemetry": {"tracing": False, "metrics": False, "logs": False, "operation_spans": False}}
    if "telemetry" in inspect.signature(FastAPI.__init__).parameters
    else {}
)


def routers() -> tuple[APIRouter, ...]:
    """Return the API's routers in the order requests are matched against them.

    The hot paths first: FastAPI matches a request against the included routers one after
    another (each a dozen checks), and alert ingest, bots' heartbeats and trading state
    polls are most of the requests. No path of a later router is matched by an earlier
    one's (tests/api/test_routes.py).
    """
    return (
        health.router,
        metrics.router,
        alerting.router,
        heartbeats.router,
        control.router,
        auth.router,
        admin.router,
        admin_metrics.router,
        monitors.router,
        queues.router,
        query.router,
        rules.router,
        notifications.router,
        escalation.router,
        incidents.router,
        runbooks.router,
        maintenance.router,
        kpis.router,
    )


def create_app(
    runtime: Runtime,
    *,
    migrate: bool = True,
    announce: Callable[[FirstAdmin], None] | None = None,
    manage_runtime: bool = True,
) -> FastAPI:
    """Return the API app for ``runtime``.

    With ``manage_runtime`` the lifespan starts and closes the runtime; without it the
    caller owns the runtime (tests that share one across apps).
    """

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if manage_runtime:
            await runtime.start(migrate=migrate, announce=announce)
        try:
            yield
        finally:
            if manage_runtime:
                await runtime.close()

    docs = runtime.config.server.docs_enabled
    app = FastAPI(
        **_NATIVE_TELEMETRY_OFF,
        title="tradewarden",
        version=__version__,
        summary="Watch trading bots, alert, and stop trading when told or when a limit is hit.",
        lifespan=lifespan,
        docs_url="/docs" if docs else None,
        redoc_url=None,
        openapi_url="/openapi.json" if docs else None,
    )
    app.state.runtime = runtime
    install_error_handlers(app)
    for router in routers():
        app.include_router(router)
    if docs:

        @app.get("/api-docs", include_in_schema=False)
        async def api_docs() -> HTMLResponse:
            return get_swagger_ui_html(openapi_url="/openapi.json", title="tradewarden API")

    # Outermost first: the request id must exist before the body limit can answer 413.
    app.add_middleware(BodyLimitMiddleware, max_bytes=runtime.config.server.max_body_bytes)
    app.add_middleware(
        RequestContextMiddleware, metrics=runtime.http_metrics, quiet_paths=_QUIET_PATHS
    )
    return app
