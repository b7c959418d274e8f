"""A real warden served over HTTP on 127.0.0.1 with one heartbeat ("bot"), for the heartbeat
clients and the example bot to ping."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
import uvicorn

from support.eventually import eventually
from support.net import LOOPBACK, free_port
from tradewarden.api import create_app
from tradewarden.auth import PasswordHasher, Role
from tradewarden.clock import ManualClock
from tradewarden.config import ServiceConfig, Settings
from tradewarden.probes import Beat
from tradewarden.probes.kinds import HeartbeatSpec
from tradewarden.runtime import SYSTEM, Runtime

TOKEN = "hb-secret-token-0123456789"
TOKEN_ENV = "WARDEN_SIDE_HB_TOKEN"  # where the warden reads the token; the test sets it


@dataclass
class Warden:
    url: str
    api_key: str
    runtime: Runtime

    def beat(self, name: str = "bot") -> Beat:
        assert self.runtime.heartbeats is not None
        return self.runtime.heartbeats.get(name) or Beat()


@asynccontextmanager
async def serve_warden(
    settings: Settings, hasher: PasswordHasher, clock: ManualClock
) -> AsyncIterator[Warden]:
    """Serve a warden from the caller's loop (the caller sets ``$WARDEN_SIDE_HB_TOKEN``)."""
    spec = HeartbeatSpec(name="bot", period_s=60, grace_s=30, token_env=TOKEN_ENV)
    runtime = Runtime(settings, ServiceConfig(monitors=(spec,)), clock=clock, hasher=hasher)
    await runtime.start(bootstrap_admin=False, run_probes=True)
    key = await runtime.auth.create_api_key("bot", Role.OPERATOR, actor=SYSTEM)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(runtime, manage_runtime=False),
            host=LOOPBACK,
            port=port,
            lifespan="off",
            log_config=None,
            access_log=False,
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
        yield Warden(url, key.key, runtime)
    finally:
        server.should_exit = True
        await serving
        await runtime.close()
