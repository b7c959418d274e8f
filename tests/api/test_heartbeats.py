"""Heartbeat pings over the API: tokens, API keys, /start, /fail, silence, restarts."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import httpx
import pytest

from support.http import bearer
from tradewarden.api import create_app
from tradewarden.auth import PasswordHasher, Role
from tradewarden.clock import ManualClock
from tradewarden.config import ServiceConfig, Settings
from tradewarden.probes.kinds import HeartbeatSpec
from tradewarden.runtime import SYSTEM, Runtime

Client = tuple[httpx.AsyncClient, dict[str, str]]


@pytest.fixture
def open_warden(
    settings: Settings,
    fast_hasher: PasswordHasher,
    clock: ManualClock,
    monkeypatch: pytest.MonkeyPatch,
) -> Callable[[], AbstractAsyncContextManager[Client]]:
    monkeypatch.setenv("HB_TOKEN", "heartbeat-token-1")
    config = ServiceConfig(
        monitors=(HeartbeatSpec(name="backup", period_s=60, grace_s=30, token_env="HB_TOKEN"),)
    )

    @asynccontextmanager
    async def _open() -> AsyncIterator[Client]:
        # A manual clock that nobody moves: nothing runs on schedule, every decision in
        # these tests comes from a ping or an explicit run.
        runtime = Runtime(settings, config, clock=clock, hasher=fast_hasher)
        await runtime.start(bootstrap_admin=False, run_probes=True)
        key = await runtime.auth.create_api_key("ops", Role.OPERATOR, actor=SYSTEM)
        app = create_app(runtime, manage_runtime=False)
        try:
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://w"
            ) as http:
                yield http, bearer(key.key)
        finally:
            await runtime.close()

    return _open


async def test_a_token_ping_marks_the_heartbeat_up(
    open_warden: Callable[[], AbstractAsyncContextManager[Client]],
) -> None:
    async with open_warden() as (http, _):
        response = await http.get("/v1/heartbeats/backup", params={"token": "heartbeat-token-1"})
        assert response.status_code == 200
        assert response.json()["state"] == "UP"
        header = await http.post(
            "/v1/heartbeats/backup", headers={"X-Heartbeat-Token": "heartbeat-token-1"}
        )
        assert header.json()["pings_total"] == 2


async def test_wrong_or_missing_credentials_are_refused(
    open_warden: Callable[[], AbstractAsyncContextManager[Client]],
) -> None:
    async with open_warden() as (http, key):
        wrong = await http.post("/v1/heartbeats/backup", params={"token": "guess"})
        assert wrong.status_code == 401
        assert wrong.json()["error"]["message"] == "invalid heartbeat token"
        assert (await http.post("/v1/heartbeats/backup")).status_code == 401
        with_key = await http.post("/v1/heartbeats/backup", headers=key)
        assert with_key.status_code == 200


async def test_unknown_heartbeat_is_404(
    open_warden: Callable[[], AbstractAsyncContextManager[Client]],
) -> None:
    async with open_warden() as (http, key):
        assert (await http.post("/v1/heartbeats/nope", headers=key)).status_code == 404


async def test_fail_goes_down_at_once_and_is_a_recorded_flip(
    open_warden: Callable[[], AbstractAsyncContextManager[Client]],
) -> None:
    async with open_warden() as (http, key):
        await http.post("/v1/heartbeats/backup", headers=key)
        failed = await http.post(
            "/v1/heartbeats/backup/fail", content=b"pg_dump exited 1", headers=key
        )
        assert failed.json()["state"] == "DOWN"
        flips = (await http.get("/v1/monitors/backup/flips", headers=key)).json()
        assert flips[0]["new_state"] == "DOWN"
        assert "pg_dump exited 1" in flips[0]["reason"]


async def test_silence_past_period_and_grace_is_down(
    open_warden: Callable[[], AbstractAsyncContextManager[Client]], clock: ManualClock
) -> None:
    async with open_warden() as (http, key):
        await http.post("/v1/heartbeats/backup", headers=key)
        clock.advance(91)
        checked = await http.post("/v1/monitors/backup/run", headers=key)
        assert checked.json()["state"] == "DOWN"
        assert checked.json()["error"] == "last ping 91 s ago (period 60 s + grace 30 s)"
        back = await http.post("/v1/heartbeats/backup", headers=key)
        assert back.json()["state"] == "UP"


async def test_run_duration_from_start_to_success(
    open_warden: Callable[[], AbstractAsyncContextManager[Client]], clock: ManualClock
) -> None:
    async with open_warden() as (http, key):
        await http.post("/v1/heartbeats/backup/start", headers=key)
        clock.advance(42)
        done = await http.post("/v1/heartbeats/backup", headers=key)
        assert done.json()["last_duration_s"] == 42
        metrics = (await http.get("/metrics")).text
        assert 'heartbeat_run_duration_seconds{monitor="backup",name="backup"} 42.0' in metrics


async def test_pings_survive_a_restart(
    open_warden: Callable[[], AbstractAsyncContextManager[Client]], clock: ManualClock
) -> None:
    async with open_warden() as (http, key):
        await http.post("/v1/heartbeats/backup", headers=key)
    clock.advance(91)
    async with open_warden() as (http, key):
        checked = await http.post("/v1/monitors/backup/run", headers=key)
        # The ping from before the restart counts: silence is measured from it.
        assert checked.json()["error"] == "last ping 91 s ago (period 60 s + grace 30 s)"
