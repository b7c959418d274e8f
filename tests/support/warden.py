"""A started warden ``Runtime`` served over real HTTP on a loopback port."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import uvicorn

from support.eventually import eventually
from support.net import LOOPBACK, free_port
from tradewarden.api import create_app
from tradewarden.runtime import Runtime

__all__ = ["serve_runtime"]


@asynccontextmanager
async def serve_runtime(runtime: Runtime, *, access_log: bool = True) -> AsyncIterator[str]:
    """Serve ``runtime`` from the caller's loop once ``/health`` answers; yield its URL.

    On exit stop the server, then close ``runtime``.
    """
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(runtime, manage_runtime=False),
            host=LOOPBACK,
            port=port,
            lifespan="off",
            log_config=None,
            access_log=access_log,
        )
    )
    serving = asyncio.create_task(server.serve())
    url = f"http://{LOOPBACK}:{port}"

    async def healthy() -> bool:
        try:
            async with httpx.AsyncClient() as http:
                return (await http.get(f"{url}/health")).status_code == 200
        except httpx.TransportError:
            return False

    try:
        await eventually(healthy, timeout_s=30)
        yield url
    finally:
        server.should_exit = True
        await serving
        await runtime.close()
