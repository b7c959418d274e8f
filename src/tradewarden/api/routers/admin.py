"""Administration: users, API keys and the audit log (admin role)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field

from tradewarden.api._deps import Admin, RuntimeDep, audit_context
from tradewarden.auth import Role
from tradewarden.clock import utc_datetime
from tradewarden.errors import ConfigError
from tradewarden.store import AuditRecord, AuditRepository

router = APIRouter(prefix="/v1/admin", tags=["admin"])

RoleName = Literal["viewer", "operator", "admin"]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class UserCreate(_Body):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)
    role: RoleName = "viewer"
    reason: str | None = Field(default=None, max_length=500)


class UserUpdate(_Body):
    role: RoleName | None = None
    disabled: bool | None = None
    password: str | None = Field(default=None, min_length=1, max_length=1024)
    reason: str | None = Field(default=None, max_length=500)


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class UserOut(_Out):
    username: str
    role: str
    disabled: bool
    must_change_password: bool
    created_at: datetime
    last_login_at: datetime | None


class ApiKeyCreate(_Body):
    name: str = Field(min_length=1, max_length=64)
    role: RoleName = "viewer"
    reason: str | None = Field(default=None, max_length=500)


class ApiKeyOut(_Out):
    id: int
    name: str
    prefix: str
    role: str
    created_by: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="The key itself: shown only in this response.")


class AuditOut(_Out):
    id: int
    at: datetime
    actor: str
    actor_type: str
    action: str
    target: str | None
    reason: str | None
    outcome: str
    details: dict[str, Any] | None
    request_id: str | None
    source_ip: str | None


def _invalid(field: str, exc: ValueError) -> RequestValidationError:
    return RequestValidationError(
        [{"loc": ("body", field), "msg": str(exc), "type": "value_error"}]
    )


@router.get("/users", response_model=list[UserOut], summary="List users")
async def list_users(_admin: Admin, runtime: RuntimeDep) -> list[UserOut]:
    """Return every user."""
    return [UserOut.model_validate(user) for user in await runtime.auth.list_users()]


@router.post("/users", response_model=UserOut, status_code=201, summary="Create a user")
async def create_user(
    body: UserCreate, request: Request, admin: Admin, runtime: RuntimeDep
) -> UserOut:
    """Create a user with a role (audited)."""
    try:
        user = await runtime.auth.create_user(
            body.username,
            body.password,
            Role.parse(body.role),
            actor=admin,
            audit=audit_context(request, body.reason),
        )
    except ValueError as exc:
        field = "password" if "password" in str(exc) else "username"
        raise _invalid(field, exc) from exc
    return UserOut.model_validate(user)


@router.patch("/users/{username}", response_model=UserOut, summary="Change a user")
async def update_user(
    username: str, body: UserUpdate, request: Request, admin: Admin, runtime: RuntimeDep
) -> UserOut:
    """Change role, disabled flag or password (audited); disabling ends their sessions."""
    try:
        user = await runtime.auth.update_user(
            username,
            actor=admin,
            role=Role.parse(body.role) if body.role else None,
            disabled=body.disabled,
            password=body.password,
            audit=audit_context(request, body.reason),
        )
    except ValueError as exc:
        raise _invalid("password", exc) from exc
    return UserOut.model_validate(user)


@router.get("/api-keys", response_model=list[ApiKeyOut], summary="List API keys")
async def list_api_keys(
    _admin: Admin, runtime: RuntimeDep, include_revoked: bool = False
) -> list[ApiKeyOut]:
    """Return API keys, never their secrets."""
    keys = await runtime.auth.list_api_keys(include_revoked=include_revoked)
    return [ApiKeyOut.model_validate(key) for key in keys]


@router.post(
    "/api-keys", response_model=ApiKeyCreated, status_code=201, summary="Create an API key"
)
async def create_api_key(
    body: ApiKeyCreate, request: Request, admin: Admin, runtime: RuntimeDep
) -> ApiKeyCreated:
    """Create a key scoped to a role (audited); the key is in this response only."""
    try:
        issued = await runtime.auth.create_api_key(
            body.name, Role.parse(body.role), actor=admin, audit=audit_context(request, body.reason)
        )
    except ValueError as exc:
        raise _invalid("name", exc) from exc
    stored = next(k for k in await runtime.auth.list_api_keys() if k.id == issued.id)
    return ApiKeyCreated(**ApiKeyOut.model_validate(stored).model_dump(), key=issued.key)


@router.delete("/api-keys/{key_id}", response_model=ApiKeyOut, summary="Revoke an API key")
async def revoke_api_key(
    key_id: int,
    request: Request,
    admin: Admin,
    runtime: RuntimeDep,
    reason: str | None = Query(default=None, max_length=500),
) -> ApiKeyOut:
    """Revoke a key (audited); it stops working at once."""
    key = await runtime.auth.revoke_api_key(
        key_id, actor=admin, audit=audit_context(request, reason)
    )
    return ApiKeyOut.model_validate(key)


@router.get("/audit", response_model=list[AuditOut], summary="Read the audit log")
async def audit_log(
    _admin: Admin,
    runtime: RuntimeDep,
    limit: int = Query(default=100, ge=1, le=1000),
    before_id: int | None = Query(default=None, ge=1),
    action: str | None = Query(default=None, max_length=64),
    actor: str | None = Query(default=None, max_length=80),
) -> list[AuditOut]:
    """Return audit entries, newest first; page with ``before_id``."""
    async with runtime.database.read_session() as session:
        entries = await AuditRepository(session).list(
            limit=limit, before_id=before_id, action=action, actor=actor
        )
    return [AuditOut.model_validate(entry) for entry in entries]


class ReloadOut(BaseModel):
    added: list[str]
    removed: list[str]
    changed: list[str]


@router.post("/reload", response_model=ReloadOut, summary="Reload monitors from the config file")
async def reload(
    request: Request,
    admin: Admin,
    runtime: RuntimeDep,
    reason: str | None = Query(default=None, max_length=500),
) -> ReloadOut:
    """Read the config file again and apply its monitors and alerting sections (route,
    receivers, inhibit_rules, time_intervals, severities, maintenance_windows; audited);
    channels, people, schedules and escalation policies are read at the next start. An
    invalid file is a 422 naming file, line and field, and changes nothing."""
    try:
        reloaded = await runtime.reload_config()  # the alerting sections too
    except ConfigError as exc:
        raise HTTPException(422, exc.message) from None
    summary = reloaded.monitors
    result = ReloadOut(
        added=list(summary.added), removed=list(summary.removed), changed=list(summary.changed)
    )
    base = audit_context(request, reason)
    async with runtime.database.session() as session:
        await AuditRepository(session).append(
            AuditRecord(
                actor=admin.actor,
                actor_type=admin.kind,
                action="monitors.reload",
                outcome="success",
                target=str(runtime.config_path) if runtime.config_path else None,
                reason=reason,
                details=result.model_dump()
                | {"alerting_changed": list(reloaded.alerting.changed)}
                | {"next_start": list(reloaded.next_start)},
                request_id=base.request_id,
                source_ip=base.source_ip,
            ),
            now=utc_datetime(runtime.clock.now()),
        )
    return result
