"""JSON errors for every failure: ``{"error": {"code", "message", "fields"?}, "request_id"}``."""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from tradewarden.auth import LoginThrottledError
from tradewarden.clock import utc_datetime
from tradewarden.errors import (
    AuthError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    StoreError,
)
from tradewarden.store import AuditRecord, AuditRepository

__all__ = ["error_response", "install_error_handlers"]

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    422: "validation_error",
    429: "too_many_requests",
    500: "internal_error",
    503: "unavailable",
}
_log = structlog.stdlib.get_logger("tradewarden.api")


def error_response(
    request: Request,
    status: int,
    message: str,
    *,
    fields: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """Return the JSON error body every endpoint uses."""
    error: dict[str, Any] = {"code": _CODES.get(status, "error"), "message": message}
    if fields is not None:
        error["fields"] = fields
    body = {"error": error, "request_id": getattr(request.state, "request_id", None)}
    return JSONResponse(body, status_code=status, headers=headers)


def _field_path(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc)


_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def _audit_denied(request: Request, exc: PermissionDeniedError) -> None:
    """Record a refused change: an attempt beyond one's role is worth an audit row."""
    runtime = request.app.state.runtime
    principal = getattr(request.state, "principal", None)
    route = getattr(request.scope.get("route"), "path", request.url.path)
    record = AuditRecord(
        actor=principal.actor if principal else "anonymous",
        actor_type=principal.kind if principal else "anonymous",
        action=f"{request.method} {route}",
        outcome="denied",
        target=request.url.path,
        details={"error": exc.message},
        request_id=getattr(request.state, "request_id", None),
        source_ip=request.client.host if request.client else None,
    )
    try:
        async with runtime.database.session() as session:
            await AuditRepository(session).append(record, now=utc_datetime(runtime.clock.now()))
    except (SQLAlchemyError, OSError) as error:
        # The refusal stands either way; losing its audit row is logged, not raised.
        _log.warning("could not audit a denied request", error=str(error))


def install_error_handlers(app: FastAPI) -> None:
    """Register handlers so that no error leaves the API as HTML or a bare string."""

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else _CODES.get(exc.status_code, "")
        return error_response(
            request, exc.status_code, message, headers=dict(exc.headers or {}) or None
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        fields = [
            {"field": _field_path(tuple(error.get("loc", ()))), "message": error.get("msg", "")}
            for error in exc.errors()
        ]
        names = ", ".join(sorted({item["field"] for item in fields}))
        return error_response(request, 422, f"invalid request: {names}", fields=fields)

    @app.exception_handler(LoginThrottledError)
    async def _throttled(request: Request, exc: LoginThrottledError) -> JSONResponse:
        return error_response(
            request,
            429,
            exc.message,
            headers={"Retry-After": str(max(1, round(exc.retry_after_s)))},
        )

    @app.exception_handler(PermissionDeniedError)
    async def _forbidden(request: Request, exc: PermissionDeniedError) -> JSONResponse:
        if request.method not in _READ_METHODS:
            await _audit_denied(request, exc)
        return error_response(request, 403, exc.message)

    @app.exception_handler(AuthError)
    async def _unauthorized(request: Request, exc: AuthError) -> JSONResponse:
        return error_response(
            request, 401, exc.message, headers={"WWW-Authenticate": 'Bearer realm="tradewarden"'}
        )

    @app.exception_handler(NotFoundError)
    async def _not_found(request: Request, exc: NotFoundError) -> JSONResponse:
        return error_response(request, 404, exc.message)

    @app.exception_handler(ConflictError)
    async def _conflict(request: Request, exc: ConflictError) -> JSONResponse:
        return error_response(request, 409, exc.message)

    @app.exception_handler(StoreError)
    async def _store(request: Request, exc: StoreError) -> JSONResponse:
        return error_response(request, 503, f"store unavailable: {exc.message}")

    @app.exception_handler(SQLAlchemyError)
    async def _database(request: Request, exc: SQLAlchemyError) -> JSONResponse:
        _log.warning("database error", path=request.url.path, error=type(exc).__name__)
        return error_response(request, 503, "store unavailable: try again shortly")

    @app.exception_handler(ConnectionError)
    async def _connection(request: Request, exc: ConnectionError) -> JSONResponse:
        _log.warning("dependency unreachable", path=request.url.path, error=str(exc))
        return error_response(request, 503, "a dependency is unreachable: try again shortly")

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        _log.error("unhandled error", path=request.url.path, exc_info=exc)
        return error_response(request, 500, "internal error: see the server log")
