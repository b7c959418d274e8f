"""Request dependencies: the runtime, the caller, and role checks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request

from tradewarden.auth import Principal, Role
from tradewarden.errors import AuthError, PermissionDeniedError
from tradewarden.runtime import Runtime
from tradewarden.store import AuditRecord

__all__ = [
    "Admin",
    "Caller",
    "Operator",
    "RuntimeDep",
    "Viewer",
    "audit_context",
    "get_runtime",
    "require_role",
]


async def get_runtime(request: Request) -> Runtime:
    """Return the runtime the app was built with (async: FastAPI runs sync ones in threads)."""
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def _credential(request: Request) -> str:
    authorization = request.headers.get("authorization")
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise AuthError("use 'Authorization: Bearer <token or API key>'")
        return value.strip()
    api_key = request.headers.get("x-api-key")
    if api_key:
        return api_key.strip()
    raise AuthError("authentication required")


async def authenticate(request: Request, runtime: RuntimeDep) -> Principal:
    """Return the caller, or raise 401."""
    principal = await runtime.auth.authenticate(_credential(request))
    request.state.principal = principal
    return principal


def require_role(role: Role) -> Callable[..., Awaitable[Principal]]:
    """Return a dependency that admits callers of ``role`` or higher (else 403)."""

    async def _check(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        if not principal.role.allows(role):
            raise PermissionDeniedError(f"this needs the {role.label} role")
        return principal

    return _check


Caller = Annotated[Principal, Depends(authenticate)]
Viewer = Annotated[Principal, Depends(require_role(Role.VIEWER))]
Operator = Annotated[Principal, Depends(require_role(Role.OPERATOR))]
Admin = Annotated[Principal, Depends(require_role(Role.ADMIN))]


def audit_context(request: Request, reason: str | None = None) -> AuditRecord:
    """Return the request's part of an audit record (who and what are filled by the action)."""
    principal: Principal | None = getattr(request.state, "principal", None)
    return AuditRecord(
        actor=principal.actor if principal else "anonymous",
        actor_type=principal.kind if principal else "anonymous",
        action="",
        outcome="success",
        reason=reason,
        request_id=getattr(request.state, "request_id", None),
        source_ip=request.client.host if request.client else None,
    )
