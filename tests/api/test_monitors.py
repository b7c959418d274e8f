"""The monitors API over a running scheduler with real targets on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from support.eventually import eventually
from support.http import bearer
from support.net import free_port
from tradewarden.api import create_app
from tradewarden.auth import PasswordHasher, Role
from tradewarden.clock import SystemClock
from tradewarden.config import ServiceConfig, Settings
from tradewarden.probes.kinds import TcpSpec
from tradewarden.runtime import SYSTEM, Runtime


@pytest.fixture
async def listening_port() -> AsyncIterator[int]:
    server = await asyncio.start_server(lambda _r, w: w.close(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield port
    finally:
        server.close()
        await server.wait_closed()


@pytest.fixture
async def warden(
    settings: Settings, fast_hasher: PasswordHasher, listening_port: int
) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str], dict[str, str]]]:
    config = ServiceConfig(
        monitors=(
            TcpSpec(
                name="open", host="127.0.0.1", port=listening_port, interval_s=0.5, timeout_s=0.4
            ),
            TcpSpec(
                name="closed",
                host="127.0.0.1",
                port=free_port(),
                interval_s=0.5,
                timeout_s=0.4,
                failure={"down_after": 1},  # type: ignore[arg-type]
            ),
        )
    )
    runtime = Runtime(settings, config, clock=SystemClock(), hasher=fast_hasher)
    await runtime.start(bootstrap_admin=False, run_probes=True)
    viewer = await runtime.auth.create_api_key("viewer", Role.VIEWER, actor=SYSTEM)
    operator = await runtime.auth.create_api_key("operator", Role.OPERATOR, actor=SYSTEM)
    app = create_app(runtime, manage_runtime=False)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40001))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://w") as http:
            yield http, bearer(viewer.key), bearer(operator.key)
    finally:
        await runtime.close()


async def _state(http: httpx.AsyncClient, headers: dict[str, str], name: str) -> str:
    return str((await http.get(f"/v1/monitors/{name}", headers=headers)).json()["state"])


async def test_monitors_report_their_state_and_flips(
    warden: tuple[httpx.AsyncClient, dict[str, str], dict[str, str]],
) -> None:
    http, viewer, _ = warden
    await eventually(lambda: _state_is(http, viewer, "open", "UP"))
    await eventually(lambda: _state_is(http, viewer, "closed", "DOWN"))
    listed = (await http.get("/v1/monitors", headers=viewer)).json()
    assert [(m["name"], m["kind"]) for m in listed] == [("closed", "tcp"), ("open", "tcp")]
    closed = listed[0]
    assert closed["last_check"]["success"] is False
    assert "refused" in closed["last_check"]["error"].lower()
    flips = (await http.get("/v1/monitors/closed/flips", headers=viewer)).json()
    assert [(f["old_state"], f["new_state"]) for f in flips] == [("PENDING", "DOWN")]
    history = (await http.get("/v1/monitors/open/history", headers=viewer)).json()
    assert history
    assert history[0]["success"] is True
    metrics = (await http.get("/metrics")).text
    assert 'probe_success{kind="tcp",monitor="open"} 1.0' in metrics
    assert 'probe_success{kind="tcp",monitor="closed"} 0.0' in metrics


async def _state_is(
    http: httpx.AsyncClient, headers: dict[str, str], name: str, state: str
) -> bool:
    return await _state(http, headers, name) == state


async def test_pause_resume_and_run_now_need_an_operator_and_are_audited(
    warden: tuple[httpx.AsyncClient, dict[str, str], dict[str, str]],
    admin_headers: dict[str, str],
) -> None:
    http, viewer, operator = warden
    await eventually(lambda: _state_is(http, viewer, "open", "UP"))
    refused = await http.post("/v1/monitors/open/pause", headers=viewer)
    assert refused.status_code == 403
    paused = await http.post(
        "/v1/monitors/open/pause", json={"reason": "provider maintenance"}, headers=operator
    )
    assert paused.status_code == 200
    assert paused.json()["state"] == "PAUSED"
    resumed = await http.post("/v1/monitors/open/resume", headers=operator)
    assert resumed.status_code == 200
    # Resuming schedules a check at once: it may already have passed when the reply is made.
    assert resumed.json()["state"] in {"PENDING", "UP"}
    ran = await http.post("/v1/monitors/open/run", headers=operator)
    assert ran.status_code == 200
    assert ran.json()["success"] is True
    flips = (await http.get("/v1/monitors/open/flips", headers=viewer)).json()
    assert [f["new_state"] for f in flips][:3] == ["UP", "PENDING", "PAUSED"]
    assert flips[2]["reason"] == "provider maintenance"


async def test_unknown_monitor_is_404(
    warden: tuple[httpx.AsyncClient, dict[str, str], dict[str, str]],
) -> None:
    http, viewer, operator = warden
    assert (await http.get("/v1/monitors/nope", headers=viewer)).status_code == 404
    assert (await http.post("/v1/monitors/nope/run", headers=operator)).status_code == 404


async def test_pause_rejects_unknown_fields(
    warden: tuple[httpx.AsyncClient, dict[str, str], dict[str, str]],
) -> None:
    http, _, operator = warden
    response = await http.post("/v1/monitors/open/pause", json={"why": "x"}, headers=operator)
    assert response.status_code == 422
    assert response.json()["error"]["fields"][0]["field"] == "body.why"


async def test_monitors_api_says_when_probes_do_not_run_here(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await client.get("/v1/monitors", headers=admin_headers)
    assert response.status_code == 503
