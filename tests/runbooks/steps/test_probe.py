"""The probe step: a configured monitor checked now through the real scheduler, or an
inline probe spec run once, against a local HTTP server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from prometheus_client import CollectorRegistry

from runbooks.conftest import Target
from tradewarden.clock import SystemClock
from tradewarden.probes import Flip, MonitorState, ProbeMetrics, Scheduler
from tradewarden.probes.kinds import HttpSpec
from tradewarden.runbooks import ProbeStep, RunbookRunner


class Flips:
    """Flips kept in memory (the scheduler's FlipRecorder port)."""

    def __init__(self) -> None:
        self.recorded: list[Flip] = []

    async def record(self, flip: Flip) -> None:
        self.recorded.append(flip)

    async def latest_states(self) -> dict[str, MonitorState]:
        return {}


@pytest.fixture
async def scheduler(target: Target, http: httpx.AsyncClient) -> AsyncIterator[Scheduler]:
    scheduler = Scheduler(
        clock=SystemClock(), flips=Flips(), sink=ProbeMetrics(CollectorRegistry()), http=http
    )
    await scheduler.start(
        [
            HttpSpec(name="bot-health", url=f"{target.url}/health", interval_s=3600),
            HttpSpec(name="bot-broken", url=f"{target.url}/broken", interval_s=3600),
        ]
    )
    yield scheduler
    await scheduler.stop()


async def test_a_monitor_is_checked_now(
    scheduler: Scheduler, target: Target, make_runner: Callable[..., RunbookRunner]
) -> None:
    runner = make_runner(scheduler=scheduler)
    step = ProbeStep(id="recheck", title="Check now", monitor="{{ labels.monitor }}")
    result = await runner.run_step(step, {"monitor": "bot-health"}, {})
    assert result.status == "ok", result.error
    assert result.output["monitor"] == "bot-health"
    assert result.output["success"] is True
    status = scheduler.get("bot-health")
    assert status is not None
    assert status.history[-1].success  # the check counts as one of the monitor's own
    broken = await runner.run_step(step, {"monitor": "bot-broken"}, {})
    assert broken.status == "failed"
    assert "503" in (broken.error or "")


async def test_an_unknown_monitor_skips_the_step(
    scheduler: Scheduler, make_runner: Callable[..., RunbookRunner]
) -> None:
    step = ProbeStep(id="recheck", title="Check now", monitor="nope")
    result = await make_runner(scheduler=scheduler).run_step(step, {}, {})
    assert (result.status, result.error) == ("skipped", "monitor nope is not configured")


async def test_an_inline_probe_runs_once(
    target: Target, make_runner: Callable[..., RunbookRunner]
) -> None:
    ok = ProbeStep.model_validate(
        {"id": "inline", "title": "I", "probe": {"kind": "http", "url": f"{target.url}/health"}}
    )
    result = await make_runner().run_step(ok, {}, {})
    assert result.status == "ok", result.error
    assert result.output["probe"] == "http"
    assert any(s["name"] == "probe_http_status_code" for s in result.output["samples"])
    down = ProbeStep.model_validate(
        {"id": "inline", "title": "I", "probe": {"kind": "tcp", "host": "127.0.0.1", "port": 1}}
    )
    failed = await make_runner().run_step(down, {}, {})
    assert failed.status == "failed"
    assert failed.error
