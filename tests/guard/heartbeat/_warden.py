"""A real warden served over HTTP on 127.0.0.1 with one heartbeat ("bot"), for the heartbeat
clients and the example bot to ping."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from support.warden import serve_runtime
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
    async with serve_runtime(runtime, access_log=False) as url:
        yield Warden(url, key.key, runtime)
