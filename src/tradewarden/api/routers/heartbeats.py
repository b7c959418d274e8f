"""Heartbeat pings: ``POST /v1/heartbeats/{name}`` (also ``/start``, ``/fail``, and GET forms
for shell one-liners), authenticated by the heartbeat's own token or an API key."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Query, Request
from pydantic import BaseModel

from tradewarden.api._deps import authenticate
from tradewarden.clock import utc_datetime
from tradewarden.errors import AuthError
from tradewarden.probes import Beat, PingKind
from tradewarden.probes.kinds import HeartbeatSpec
from tradewarden.runtime import Runtime

router = APIRouter(prefix="/v1/heartbeats", tags=["heartbeats"])

_MAX_MESSAGE = 2000


class PingOut(BaseModel):
    name: str
    received: str
    state: str
    pings_total: int
    last_duration_s: float | None


async def _ping(
    request: Request, name: str, kind: PingKind, token: str | None, message: str | None
) -> PingOut:
    runtime: Runtime = request.app.state.runtime
    scheduler, board = runtime.scheduler, runtime.heartbeats
    if scheduler is None or board is None:
        raise HTTPException(503, "monitors do not run in this process")
    status = scheduler.get(name)
    if status is None or not isinstance(status.spec, HeartbeatSpec):
        raise HTTPException(404, f"heartbeat {name!r} does not exist")
    if not (token and status.spec.accepts(token)):
        # No token, or not this heartbeat's: an API key or access token (any role) will do.
        if token and not request.headers.get("authorization"):
            raise AuthError("invalid heartbeat token")
        await authenticate(request, runtime)
    beat: Beat = await board.ping(name, kind, message[:_MAX_MESSAGE] if message else None)
    # Decide at once: a /fail or the first ping after silence must not wait for the next
    # scheduled look.
    if kind != "start":
        await scheduler.run_now(name)
    return PingOut(
        name=name,
        received=utc_datetime(runtime.clock.now()).isoformat(timespec="milliseconds"),
        state=status.state,
        pings_total=beat.pings_total,
        last_duration_s=beat.last_duration_s,
    )


Token = Annotated[str | None, Query(max_length=200, description="The heartbeat's token.")]
TokenHeader = Annotated[str | None, Header(alias="X-Heartbeat-Token", max_length=200)]
Message = Annotated[str | None, Query(max_length=_MAX_MESSAGE)]


async def _body_message(request: Request) -> str | None:
    body = await request.body()
    if not body:
        return None
    return body[:_MAX_MESSAGE].decode("utf-8", errors="replace")


@router.post("/{name}", response_model=PingOut, summary="Ping: the job succeeded")
async def ping(
    name: str, request: Request, token: Token = None, x_token: TokenHeader = None
) -> PingOut:
    """Record a successful run or a sign of life."""
    return await _ping(request, name, "success", token or x_token, None)


@router.get("/{name}", response_model=PingOut, summary="Ping (GET form, for shell one-liners)")
async def ping_get(
    name: str, request: Request, token: Token = None, x_token: TokenHeader = None
) -> PingOut:
    """Record a successful run or a sign of life."""
    return await _ping(request, name, "success", token or x_token, None)


@router.post("/{name}/start", response_model=PingOut, summary="Ping: the job started")
@router.get("/{name}/start", response_model=PingOut, include_in_schema=False)
async def start(
    name: str, request: Request, token: Token = None, x_token: TokenHeader = None
) -> PingOut:
    """Record the start of a run; the next success ping records its duration."""
    return await _ping(request, name, "start", token or x_token, None)


@router.post("/{name}/fail", response_model=PingOut, summary="Ping: the job failed")
@router.get("/{name}/fail", response_model=PingOut, include_in_schema=False)
async def fail(
    name: str,
    request: Request,
    token: Token = None,
    x_token: TokenHeader = None,
    message: Message = None,
) -> PingOut:
    """Record a failed run: the monitor goes DOWN at once (the body or ?message= says why)."""
    text = message or (await _body_message(request) if request.method == "POST" else None)
    return await _ping(request, name, "fail", token or x_token, text)
