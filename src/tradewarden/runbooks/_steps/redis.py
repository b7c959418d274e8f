"""``redis``: one allow-listed read command, checked again on its rendered arguments
BEFORE anything is sent: a refused command never reaches the server."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from tradewarden.probes._secrets import Scrubber
from tradewarden.runbooks._model import RedisStep
from tradewarden.runbooks._readonly import ReadOnlyError, check_redis_command, redis_command_name
from tradewarden.runbooks._steps._base import Outcome, StepContext
from tradewarden.runbooks._steps._connections import resolve_connection
from tradewarden.runbooks._templates import render

__all__ = ["rendered_command", "run"]

_CLIENT_NAME = "tradewarden-runbook"


def rendered_command(
    step: RedisStep, labels: Mapping[str, str], annotations: Mapping[str, str]
) -> list[str]:
    """Return the command with its arguments rendered (the name never is)."""
    _, words = redis_command_name(step.command)
    head = list(step.command[:words])
    return head + [render(argument, labels, annotations) for argument in step.command[words:]]


async def _send(url: str, command: list[str], timeout_s: float) -> Any:
    client = aioredis.Redis.from_url(
        url,
        single_connection_client=True,
        decode_responses=True,
        socket_connect_timeout=timeout_s,
        socket_timeout=timeout_s,
        retry=Retry(NoBackoff(), 0),
        client_name=_CLIENT_NAME,
        protocol=2,
    )
    try:
        return await client.execute_command(*command)  # type: ignore[no-untyped-call]
    finally:
        await client.aclose()


async def run(
    step: RedisStep, ctx: StepContext, labels: Mapping[str, str], annotations: Mapping[str, str]
) -> Outcome:
    """Send the command; a refusal (allow-list or server) is ``failed``."""
    command = rendered_command(step, labels, annotations)
    shown = {"command": command, "connection": step.connection}
    try:
        check_redis_command(command, rendered=True)
    except ReadOnlyError as exc:
        return Outcome("failed", shown, f"refused before sending: {exc}")
    url = await resolve_connection(step.connection, "redis", ctx)
    scrub = Scrubber(url)
    try:
        reply = await _send(url, command, ctx.timeout_s)
    except RedisTimeoutError as exc:
        raise TimeoutError(scrub(str(exc))) from exc
    except RedisError as exc:
        return Outcome("failed", shown, scrub(f"{type(exc).__name__}: {exc}"))
    return Outcome("ok", {**shown, "reply": reply})
