"""Find the URL of a step's ``connection``: a ``runbooks.connections`` entry, else a
configured monitor of the same kind (its DSN or URL setting is reused)."""

from __future__ import annotations

import asyncio
from typing import Literal

from tradewarden.probes.kinds import PostgresSpec, RedisSpec
from tradewarden.runbooks._steps._base import StepContext, StepSkipped

__all__ = ["resolve_connection"]


async def resolve_connection(
    name: str, kind: Literal["postgres", "redis"], ctx: StepContext
) -> str:
    """Return the URL for ``name``; StepSkipped when nothing of that name is configured,
    ValueError when it is of another kind or its secret cannot be read."""
    connection = ctx.config.connection(name)
    if connection is not None:
        if connection.kind != kind:
            raise ValueError(f"connection {name} is a {connection.kind} connection, not {kind}")
        return await asyncio.to_thread(connection.resolve_url)
    monitor = ctx.monitors.get(name)
    if kind == "postgres" and isinstance(monitor, PostgresSpec):
        return await asyncio.to_thread(monitor.resolve_dsn)
    if kind == "redis" and isinstance(monitor, RedisSpec):
        return await asyncio.to_thread(monitor.resolve_url)
    if monitor is not None:
        raise ValueError(f"monitor {name} is a {monitor.kind} monitor, not {kind}")
    raise StepSkipped(f"connection {name} is not configured")
