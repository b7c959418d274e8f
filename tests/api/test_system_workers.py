"""GET /v1/admin/metrics/system: the queues and workers of each queue monitor, with real
BullMQ, RQ and Celery workers on a private Redis, and an error per unreachable broker."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bullmq
import httpx
import pytest
import redis

from probes._queue_workers import (
    SUCCEED,
    WORKER_TIMEOUT_S,
    celery_worker_argv,
    close_worker,
    enqueue_rq,
    make_celery_app,
    rq_worker_argv,
    running,
)
from support.eventually import eventually
from support.http import bearer
from support.redis_server import RedisServer
from tradewarden.api import create_app
from tradewarden.auth import PasswordHasher, Role
from tradewarden.clock import ManualClock
from tradewarden.config import ServiceConfig, Settings
from tradewarden.probes.kinds import QueueSpec
from tradewarden.runtime import SYSTEM, Runtime

pytestmark = [pytest.mark.redis, pytest.mark.slow]

PASSWORD = "w0rkers-s3cret"
RQ_SUCCEED = "probes._queue_workers.succeed"
RQ_FAIL = "probes._queue_workers.fail"
RQ_HOLD = "probes._queue_workers.hold_until"


@dataclass
class System:
    """The app over four queue monitors; ``latest`` holds the last reply, by monitor."""

    http: httpx.AsyncClient
    headers: dict[str, str]
    bull_url: str
    rq_url: str
    celery_url: str
    latest: dict[str, dict[str, Any]] = field(default_factory=dict)

    async def read(self) -> dict[str, dict[str, Any]]:
        response = await self.http.get("/v1/admin/metrics/system", headers=self.headers)
        assert response.status_code == 200, response.text
        assert PASSWORD not in response.text
        self.latest = {entry["monitor"]: entry for entry in response.json()["queues"]["monitors"]}
        return self.latest


@pytest.fixture
async def system(
    settings: Settings, fast_hasher: PasswordHasher, tmp_path: Path
) -> AsyncIterator[System]:
    with RedisServer(tmp_path / "gone", password=PASSWORD) as gone:
        gone_url = gone.url()  # stopped on leaving the block: nothing answers there
    with RedisServer(tmp_path / "redis") as broker:
        urls = [broker.url(db=db) for db in (0, 1, 2)]
        monitors = (
            QueueSpec(name="jobs", backend="bullmq", url=urls[0], queues=["orders"]),
            QueueSpec(name="reports", backend="rq", url=urls[1], queues=["reports"]),
            QueueSpec(name="tasks", backend="celery", url=urls[2], queues=["emails"]),
            QueueSpec(name="gone", backend="bullmq", url=gone_url, queues=["orders"]),
        )
        runtime = Runtime(
            settings, ServiceConfig(monitors=monitors), clock=ManualClock(), hasher=fast_hasher
        )
        await runtime.start(bootstrap_admin=False, run_probes=True)
        try:
            key = await runtime.auth.create_api_key("admin", Role.ADMIN, actor=SYSTEM)
            transport = httpx.ASGITransport(app=create_app(runtime, manage_runtime=False))
            async with httpx.AsyncClient(transport=transport, base_url="http://w") as http:
                yield System(http, bearer(key.key), *urls)
        finally:
            await runtime.close()


async def _idle(job: bullmq.Job, token: str) -> None:
    return None


def _send_celery(broker_url: str, count: int) -> None:
    app = make_celery_app(broker_url)
    try:
        for index in range(count):
            app.send_task(SUCCEED, args=(index,), queue="emails")
    finally:
        app.close()


async def test_bullmq_lists_the_connections_named_after_the_queue(system: System) -> None:
    worker = bullmq.Worker("orders", _idle, {"connection": system.bull_url})
    try:

        async def connected() -> bool:
            return bool((await system.read())["jobs"]["workers"])

        await eventually(connected, timeout_s=WORKER_TIMEOUT_S, interval_s=0.2)
    finally:
        await close_worker(worker)

    jobs = system.latest["jobs"]
    assert jobs["error"] is None
    assert jobs["workers_error"] is None
    assert jobs["queues"][0]["queue"] == "orders"
    for connection in jobs["workers"]:
        assert connection["name"] == "bull:orders"
        assert connection["queues"] == ["orders"]
        assert connection["state"] == "unknown"
        assert connection["details"]["last_command"]


async def test_rq_worker_counts_state_and_current_job(system: System, tmp_path: Path) -> None:
    url = system.rq_url
    await asyncio.to_thread(enqueue_rq, url, "reports", [(RQ_SUCCEED, (1,)), (RQ_FAIL, ())])
    with running(rq_worker_argv(url, "reports", burst=False), tmp_path / "rq.log"):

        async def both_ran() -> bool:
            workers = (await system.read())["reports"]["workers"]
            return [(w["successful"], w["failed"]) for w in workers] == [(1, 1)]

        await eventually(both_ran, timeout_s=WORKER_TIMEOUT_S, interval_s=0.2)
        (idle,) = system.latest["reports"]["workers"]
        job, *_ = await asyncio.to_thread(enqueue_rq, url, "reports", [(RQ_HOLD, (url, "release"))])

        async def busy() -> bool:
            return [w["state"] for w in (await system.read())["reports"]["workers"]] == ["busy"]

        try:
            await eventually(busy, timeout_s=WORKER_TIMEOUT_S, interval_s=0.2)
        finally:
            with redis.Redis.from_url(url) as client:
                client.set("release", 1)
        (held,) = system.latest["reports"]["workers"]

    assert idle["queues"] == ["reports"]
    assert idle["state"] == "idle"
    assert idle["current_jobs"] == []
    assert idle["last_heartbeat"] is not None
    assert idle["details"]["pid"] > 0
    assert held["current_jobs"] == [job.id]


async def test_celery_workers_answer_the_remote_control(system: System, tmp_path: Path) -> None:
    await asyncio.to_thread(_send_celery, system.celery_url, 2)
    argv = celery_worker_argv(system.celery_url, None, ["emails"])
    with running(argv, tmp_path / "celery.log"):

        async def both_ran() -> bool:
            workers = (await system.read())["tasks"]["workers"]
            return [w["processed"] for w in workers] == [2]

        await eventually(both_ran, timeout_s=WORKER_TIMEOUT_S, interval_s=0.2)

    (worker,) = system.latest["tasks"]["workers"]
    assert worker["name"].startswith("celery@")
    assert worker["queues"] == ["emails"]
    assert worker["state"] == "idle"
    assert worker["successful"] is None  # Celery counts tasks run, not their outcome
    assert worker["details"]["pid"] > 0


async def test_an_unreachable_broker_is_its_monitors_error_only(system: System) -> None:
    by_monitor = await system.read()

    gone = by_monitor["gone"]
    assert gone["queues"] == []
    assert gone["workers"] == []
    for error in (gone["error"], gone["workers_error"]):
        assert error.startswith("bullmq on redis://")
        assert "cannot connect" in error
    assert by_monitor["jobs"]["error"] is None
    assert by_monitor["jobs"]["workers"] == []
    assert by_monitor["reports"]["workers_error"] is None
    assert by_monitor["tasks"]["workers"] == []
    assert by_monitor["tasks"]["workers_error"] is None
