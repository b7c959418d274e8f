"""Login, token refresh, logout, and the caller's own account."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from tradewarden.api._deps import Caller, RuntimeDep, audit_context
from tradewarden.auth import TokenPair
from tradewarden.errors import AuthError

router = APIRouter(prefix="/v1/auth", tags=["auth"])


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginRequest(_Body):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class RefreshRequest(_Body):
    refresh_token: str = Field(min_length=1, max_length=512)


class PasswordChange(_Body):
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=1, max_length=1024)


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int
    refresh_token: str
    refresh_expires_in: int
    must_change_password: bool


class Me(BaseModel):
    kind: str
    name: str
    role: str


def _tokens(pair: TokenPair) -> TokenResponse:
    return TokenResponse(
        access_token=pair.access_token,
        expires_in=pair.access_expires_in_s,
        refresh_token=pair.refresh_token,
        refresh_expires_in=pair.refresh_expires_in_s,
        must_change_password=pair.must_change_password,
    )


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.post("/login", response_model=TokenResponse, summary="Trade a password for tokens")
async def login(body: LoginRequest, request: Request, runtime: RuntimeDep) -> TokenResponse:
    """Return an access token (15 min) and a refresh token (30 days)."""
    pair = await runtime.auth.login(body.username, body.password, address=_address(request))
    return _tokens(pair)


@router.post("/refresh", response_model=TokenResponse, summary="Rotate a refresh token")
async def refresh(body: RefreshRequest, runtime: RuntimeDep) -> TokenResponse:
    """Return a new pair; the presented refresh token stops working."""
    return _tokens(await runtime.auth.refresh(body.refresh_token))


@router.post("/logout", status_code=204, summary="Revoke a refresh token's session")
async def logout(body: RefreshRequest, runtime: RuntimeDep) -> Response:
    """Revoke the session of the refresh token."""
    await runtime.auth.logout(body.refresh_token)
    return Response(status_code=204)


@router.get("/me", response_model=Me, summary="Who am I")
async def me(caller: Caller) -> Me:
    """Return the caller's name, kind and role."""
    return Me(kind=caller.kind, name=caller.name, role=caller.role.label)


@router.post("/password", status_code=204, summary="Change my password")
async def change_password(
    body: Annotated[PasswordChange, Body()], request: Request, caller: Caller, runtime: RuntimeDep
) -> Response:
    """Change the caller's password after checking the current one; ends other sessions."""
    if caller.kind != "user":
        raise AuthError("only users have passwords")
    await runtime.auth.login(caller.name, body.current_password, address=_address(request))
    try:
        await runtime.auth.update_user(
            caller.name, actor=caller, password=body.new_password, audit=audit_context(request)
        )
    except ValueError as exc:
        from fastapi.exceptions import RequestValidationError

        raise RequestValidationError(
            [{"loc": ("body", "new_password"), "msg": str(exc), "type": "value_error"}]
        ) from exc
    return Response(status_code=204)
