"""The real runbooks behind the port: an incident opened by an alert runs its bundled
runbook, and the steps' results (one of them read from a local HTTP server) are on the
timeline."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from aiohttp import web

from incidents.conftest import DispatcherFactory, ServiceFactory, alert, detail, incidents
from tradewarden.clock import ManualClock
from tradewarden.incidents import RunbookDiagnosis
from tradewarden.promql import Engine
from tradewarden.runbooks import RunbookRunner, RunbooksConfig, load_runbooks
from tradewarden.series import SeriesStore


@pytest.fixture
async def bot() -> AsyncIterator[str]:
    """Serve a bot's /health on 127.0.0.1; yield its host:port."""
    hits: list[str] = []

    async def health(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.json_response({"status": "degraded", "db": "timeout"}, status=200)

    app = web.Application()
    app.router.add_get("/health", health)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def test_an_alert_incident_runs_its_bundled_runbook_onto_the_timeline(
    make_service: ServiceFactory,
    make_dispatcher: DispatcherFactory,
    clock: ManualClock,
    bot: str,
    tmp_path: Path,
) -> None:
    config = RunbooksConfig(http_hosts=(bot,))  # the bot is a known target
    async with httpx.AsyncClient() as http:
        runner = RunbookRunner(config, clock=clock, http=http, engine=Engine(SeriesStore()))
        diagnosis = RunbookDiagnosis(load_runbooks(config, tmp_path), runner)
        service = make_service(diagnosis=diagnosis)
        dispatcher = make_dispatcher(service)
        firing = alert(
            clock, alertname="HighErrorRate", severity="critical", job="bot", instance=bot
        )
        await dispatcher.ingest([firing])
        await dispatcher.flush_due()
        await service.diagnoses.wait()
        [incident] = await incidents(service)
        found = await detail(service, incident.public_id)
        await service.close()
    steps = {e.data["step_id"]: e for e in found.timeline if e.kind == "runbook_step"}
    assert set(steps) == {"errors-by-route", "latency-by-route", "health"}
    health = steps["health"]
    assert health.data["status"] == "ok", health.data
    assert health.data["output"]["status"] == 200
    assert health.data["output"]["body"] == {"status": "degraded", "db": "timeout"}
    assert health.text == "The service's /health: ok"
    assert found.timeline[-1].data == {"runbook": "api-errors-latency", "steps": 3}
