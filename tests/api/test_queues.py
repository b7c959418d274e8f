"""POST /v1/queues/{monitor}/{queue}/...: real BullMQ, RQ and Celery queues and workers on a
private Redis, through the real app; each action's effect is read back from the broker."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bullmq
import httpx
import pytest
import redis
import redis.asyncio as aioredis
import rq
from rq.registry import FailedJobRegistry, FinishedJobRegistry
from rq.suspension import is_suspended

from probes._queue_workers import (
    WORKER_TIMEOUT_S,
    bull_queue,
    close_worker,
    enqueue_rq,
    fill_bullmq,
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
from tradewarden.probes import MonitorSpec
from tradewarden.probes.kinds import HeartbeatSpec, QueueSpec
from tradewarden.runtime import SYSTEM, Runtime

pytestmark = [pytest.mark.redis, pytest.mark.slow]

PASSWORD = "qu3ue-ops-s3cret"
SUCCEED = "probes._queue_workers.succeed"
FAIL = "probes._queue_workers.fail"


@dataclass
class Warden:
    http: httpx.AsyncClient
    viewer: dict[str, str]
    operator: dict[str, str]
    admin: dict[str, str]

    async def act(
        self, monitor: str, queue: str, action: str, body: dict[str, Any] | None = None
    ) -> httpx.Response:
        return await self.http.post(
            f"/v1/queues/{monitor}/{queue}/{action}",
            json={"reason": "test"} if body is None else body,
            headers=self.operator,
        )

    async def audit(self, action: str) -> list[dict[str, Any]]:
        response = await self.http.get(
            "/v1/admin/audit", params={"action": action}, headers=self.admin
        )
        assert response.status_code == 200, response.text
        rows: list[dict[str, Any]] = response.json()
        return rows


@contextlib.asynccontextmanager
async def warden_over(
    settings: Settings, hasher: PasswordHasher, monitors: Sequence[MonitorSpec]
) -> AsyncIterator[Warden]:
    """Run a runtime with ``monitors`` (checked hourly, so never during a test) and its app."""
    runtime = Runtime(
        settings, ServiceConfig(monitors=tuple(monitors)), clock=ManualClock(), hasher=hasher
    )
    await runtime.start(bootstrap_admin=False, run_probes=True)
    try:
        keys = [
            await runtime.auth.create_api_key(role.label, role, actor=SYSTEM)
            for role in (Role.VIEWER, Role.OPERATOR, Role.ADMIN)
        ]
        transport = httpx.ASGITransport(
            app=create_app(runtime, manage_runtime=False), client=("127.0.0.1", 40002)
        )
        async with httpx.AsyncClient(transport=transport, base_url="http://w") as http:
            yield Warden(http, *(bearer(key.key) for key in keys))
    finally:
        await runtime.close()


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[RedisServer]:
    with RedisServer(tmp_path / "redis") as server:
        yield server


def _monitors(broker: RedisServer) -> list[MonitorSpec]:
    # One Redis database per backend, so their keys cannot meet.
    hourly: dict[str, Any] = {"interval_s": 3600}
    return [
        QueueSpec(name="jobs", backend="bullmq", url=broker.url(db=0), queues=["orders"], **hourly),
        QueueSpec(name="reports", backend="rq", url=broker.url(db=1), queues=["reports"], **hourly),
        QueueSpec(
            name="tasks", backend="celery", url=broker.url(db=2), queues=["emails"], **hourly
        ),
        HeartbeatSpec(name="loop", period_s=60),
    ]


@pytest.fixture
async def warden(
    settings: Settings, fast_hasher: PasswordHasher, broker: RedisServer
) -> AsyncIterator[Warden]:
    async with warden_over(settings, fast_hasher, _monitors(broker)) as running_warden:
        yield running_warden


# --- BullMQ -------------------------------------------------------------------------------


async def _succeed(job: bullmq.Job, token: str) -> str:
    return "done"


async def _worker_waits_for_jobs(url: str, client_name: str) -> bool:
    """Return whether a worker connection named ``client_name`` is blocked waiting for jobs."""
    async with aioredis.Redis.from_url(url) as client:
        clients = await client.client_list()
    return any(c.get("name") == client_name and c.get("cmd") == "bzpopmin" for c in clients)


async def test_bullmq_pause_stops_a_real_worker_until_resumed(
    warden: Warden, broker: RedisServer
) -> None:
    url = broker.url(db=0)
    async with bull_queue(url) as queue:
        paused = await warden.act("jobs", "orders", "pause", {"reason": "deploying the executor"})

        assert paused.status_code == 200, paused.text
        assert paused.json() == {
            "monitor": "jobs",
            "queue": "orders",
            "backend": "bullmq",
            "action": "pause",
            "paused": True,
            "retried": None,
            "removed": None,
            "details": {},
        }
        with redis.Redis.from_url(url, decode_responses=True) as client:
            assert client.hget("bull:orders:meta", "paused") == "1"

        await queue.add("ok", {})
        worker = bullmq.Worker("orders", _succeed, {"connection": url})
        try:
            # Blocked on the marker with a job in wait: it asked for a job and got none.
            await eventually(
                lambda: _worker_waits_for_jobs(url, "bull:orders"), timeout_s=WORKER_TIMEOUT_S
            )
            held = await queue.getJobCounts("wait", "active", "completed")
            assert held == {"wait": 1, "active": 0, "completed": 0}

            resumed = await warden.act("jobs", "orders", "resume", {"reason": "deploy done"})

            assert resumed.status_code == 200, resumed.text
            assert resumed.json()["paused"] is False

            async def job_done() -> bool:
                return (await queue.getJobCounts("completed"))["completed"] == 1

            await eventually(job_done, timeout_s=WORKER_TIMEOUT_S)
        finally:
            await close_worker(worker)

    (pause_row,) = await warden.audit("queue.pause")
    assert pause_row["actor"] == "api_key:operator"
    assert pause_row["target"] == "jobs/orders"
    assert pause_row["reason"] == "deploying the executor"
    assert pause_row["outcome"] == "success"
    assert pause_row["details"]["paused"] is True
    assert pause_row["source_ip"] == "127.0.0.1"
    (resume_row,) = await warden.audit("queue.resume")
    assert resume_row["details"]["paused"] is False


async def test_bullmq_retry_failed_and_clean_move_and_remove_jobs(
    warden: Warden, broker: RedisServer
) -> None:
    url = broker.url(db=0)
    async with bull_queue(url) as queue:
        await fill_bullmq(queue, url)  # 3 completed, 2 failed, 2 waiting, ...

        retried = await warden.act("jobs", "orders", "retry-failed")
        after_retry = await queue.getJobCounts("failed", "wait")
        kept = await warden.act(
            "jobs", "orders", "clean", {"reason": "r", "state": "completed", "older_than_s": 86400}
        )
        cleaned = await warden.act(
            "jobs",
            "orders",
            "clean",
            {"reason": "tidy up", "state": "completed", "older_than_s": 0.001, "limit": 2},
        )
        after_clean = await queue.getJobCounts("completed", "wait")

    assert retried.status_code == 200, retried.text
    assert retried.json()["retried"] == 2
    assert after_retry == {"failed": 0, "wait": 4}
    assert kept.json()["removed"] == 0
    assert cleaned.status_code == 200, cleaned.text
    assert cleaned.json()["removed"] == 2
    assert after_clean == {"completed": 1, "wait": 4}
    (retry_row,) = await warden.audit("queue.retry-failed")
    assert retry_row["details"]["retried"] == 2
    newest, oldest = await warden.audit("queue.clean")
    assert newest["reason"] == "tidy up"
    assert newest["details"] == {
        "state": "completed",
        "older_than_s": 0.001,
        "limit": 2,
        "backend": "bullmq",
        "paused": None,
        "retried": None,
        "removed": 2,
    }
    assert oldest["details"]["removed"] == 0


# --- RQ -----------------------------------------------------------------------------------


async def _run_rq_burst(url: str, log: Path, *, exit_code: int = 0) -> None:
    with running(rq_worker_argv(url, "reports"), log) as worker:
        assert await asyncio.to_thread(worker.wait, WORKER_TIMEOUT_S) == exit_code


def _rq_counts(url: str) -> dict[str, int]:
    with redis.Redis.from_url(url) as connection:
        return {
            "waiting": rq.Queue("reports", connection=connection).count,
            "failed": FailedJobRegistry("reports", connection=connection).count,
            "completed": FinishedJobRegistry("reports", connection=connection).count,
        }


async def test_rq_retry_failed_requeues_and_clean_deletes_old_jobs(
    warden: Warden, broker: RedisServer, tmp_path: Path
) -> None:
    url = broker.url(db=1)
    done, *_ = await asyncio.to_thread(
        enqueue_rq, url, "reports", [(SUCCEED, (1,)), (FAIL, ()), (FAIL, ())]
    )
    await _run_rq_burst(url, tmp_path / "rq.log")
    assert _rq_counts(url) == {"waiting": 0, "failed": 2, "completed": 1}

    retried = await warden.act("reports", "reports", "retry-failed")

    assert retried.status_code == 200, retried.text
    assert retried.json()["retried"] == 2
    assert retried.json()["details"] == {"missing": 0}
    assert _rq_counts(url) == {"waiting": 2, "failed": 0, "completed": 1}

    kept = await warden.act(
        "reports", "reports", "clean", {"reason": "r", "state": "completed", "older_than_s": 3600}
    )
    cleaned = await warden.act(
        "reports", "reports", "clean", {"reason": "r", "state": "completed", "older_than_s": 0.001}
    )

    assert kept.json()["removed"] == 0
    assert cleaned.json()["removed"] == 1
    with redis.Redis.from_url(url) as connection:
        assert not rq.job.Job.exists(done.id, connection=connection)
    assert _rq_counts(url) == {"waiting": 2, "failed": 0, "completed": 0}

    await _run_rq_burst(url, tmp_path / "rq.log")  # the retried jobs fail again
    one_failed = await warden.act(
        "reports",
        "reports",
        "clean",
        {"reason": "r", "state": "failed", "older_than_s": 0.001, "limit": 1},
    )

    assert one_failed.json()["removed"] == 1
    assert _rq_counts(url) == {"waiting": 0, "failed": 1, "completed": 0}
    assert [row["details"]["removed"] for row in await warden.audit("queue.clean")] == [1, 1, 0]


async def test_rq_pause_suspends_every_worker_only_when_asked(
    warden: Warden, broker: RedisServer, tmp_path: Path
) -> None:
    url = broker.url(db=1)

    refused = await warden.act("reports", "reports", "pause")

    assert refused.status_code == 409
    assert refused.json()["error"]["message"].startswith(
        "pause of one queue is not supported by RQ: RQ suspends every worker"
    )
    assert '"all_workers": true' in refused.json()["error"]["message"]
    with redis.Redis.from_url(url) as connection:
        assert not is_suspended(connection)

    suspended = await warden.act(
        "reports", "reports", "pause", {"reason": "db migration", "all_workers": True}
    )

    assert suspended.status_code == 200, suspended.text
    assert suspended.json()["paused"] is True
    assert suspended.json()["details"]["scope"] == "every RQ worker of this Redis database"
    assert "already waiting for a job" in suspended.json()["details"]["caveat"]
    await asyncio.to_thread(enqueue_rq, url, "reports", [(SUCCEED, (1,))])
    # A worker started while RQ is suspended refuses to start and leaves the job alone.
    await _run_rq_burst(url, tmp_path / "suspended.log", exit_code=1)
    assert "RQ is currently suspended" in (tmp_path / "suspended.log").read_text()
    assert _rq_counts(url)["waiting"] == 1

    resumed = await warden.act(
        "reports", "reports", "resume", {"reason": "done", "all_workers": True}
    )

    assert resumed.json()["paused"] is False
    await _run_rq_burst(url, tmp_path / "rq.log")
    assert _rq_counts(url) == {"waiting": 0, "failed": 0, "completed": 1}
    (denied,) = [row for row in await warden.audit("queue.pause") if row["outcome"] == "error"]
    assert denied["target"] == "reports/reports"
    assert "not supported by RQ" in denied["details"]["error"]
    (ok,) = [row for row in await warden.audit("queue.pause") if row["outcome"] == "success"]
    assert ok["details"]["all_workers"] is True


# --- Celery and refusals ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "body", "why"),
    [
        ("pause", {}, "a Redis broker has no pause"),
        ("resume", {}, "a Redis broker has no pause"),
        ("retry-failed", {}, "failed tasks are not kept on the broker"),
        ("clean", {"state": "failed", "older_than_s": 60}, "finished tasks are not kept"),
    ],
)
async def test_celery_refuses_what_its_broker_cannot_do(
    warden: Warden, action: str, body: dict[str, Any], why: str
) -> None:
    response = await warden.act("tasks", "emails", action, {"reason": "r", **body})

    assert response.status_code == 409
    message = response.json()["error"]["message"]
    assert message.startswith(f"{action} is not supported by Celery: {why}")
    (row,) = await warden.audit(f"queue.{action}")
    assert row["outcome"] == "error"
    assert row["details"]["error"] == message


async def test_all_workers_is_for_rq_only(warden: Warden) -> None:
    response = await warden.act("jobs", "orders", "pause", {"reason": "r", "all_workers": True})

    assert response.status_code == 422
    (field,) = response.json()["error"]["fields"]
    assert field["field"] == "body.all_workers"
    assert "for backend rq only" in field["message"]


async def test_a_viewer_is_refused_and_audited_as_denied(
    warden: Warden, broker: RedisServer
) -> None:
    response = await warden.http.post(
        "/v1/queues/jobs/orders/pause", json={"reason": "curious"}, headers=warden.viewer
    )

    assert response.status_code == 403
    (row,) = await warden.audit("POST /v1/queues/{monitor}/{queue}/pause")
    assert row["outcome"] == "denied"
    assert row["actor"] == "api_key:viewer"
    assert row["target"] == "/v1/queues/jobs/orders/pause"
    with redis.Redis.from_url(broker.url(db=0)) as client:
        assert not client.hexists("bull:orders:meta", "paused")
    assert await warden.audit("queue.pause") == []


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("nope/orders/pause", "monitor 'nope' does not exist"),
        ("jobs/ordres/pause", "monitor 'jobs' watches no queue 'ordres' (it watches orders)"),
        ("loop/orders/retry-failed", "monitor 'loop' is a heartbeat monitor, not a queue one"),
    ],
)
async def test_unknown_monitor_queue_or_kind_is_404(
    warden: Warden, path: str, message: str
) -> None:
    response = await warden.http.post(
        f"/v1/queues/{path}", json={"reason": "r"}, headers=warden.operator
    )

    assert response.status_code == 404
    assert response.json()["error"]["message"] == message


@pytest.mark.parametrize(
    ("action", "body", "field"),
    [
        ("pause", {}, "body.reason"),
        ("pause", {"reason": ""}, "body.reason"),
        ("retry-failed", {"reason": "r", "count": 3}, "body.count"),
        ("clean", {"reason": "r", "older_than_s": 60}, "body.state"),
        ("clean", {"reason": "r", "state": "active", "older_than_s": 60}, "body.state"),
        ("clean", {"reason": "r", "state": "failed"}, "body.older_than_s"),
        ("clean", {"reason": "r", "state": "failed", "older_than_s": 0}, "body.older_than_s"),
        ("clean", {"reason": "r", "state": "failed", "older_than_s": 1, "limit": 0}, "body.limit"),
    ],
)
async def test_bad_bodies_name_the_field(
    warden: Warden, action: str, body: dict[str, Any], field: str
) -> None:
    response = await warden.act("jobs", "orders", action, body)

    assert response.status_code == 422
    assert [item["field"] for item in response.json()["error"]["fields"]] == [field]


async def test_unreachable_broker_is_503_without_the_password(
    settings: Settings,
    fast_hasher: PasswordHasher,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with RedisServer(tmp_path / "locked", password=PASSWORD) as locked:
        monitors = [
            QueueSpec(name="jobs", backend="bullmq", url=locked.url(), queues=["orders"]),
            QueueSpec(name="reports", backend="rq", url=locked.url(db=1), queues=["reports"]),
        ]
        async with warden_over(settings, fast_hasher, monitors) as warden:
            locked.stop()

            bull = await warden.act("jobs", "orders", "pause")
            rq_retry = await warden.act("reports", "reports", "retry-failed")
            rows = [*await warden.audit("queue.pause"), *await warden.audit("queue.retry-failed")]

    for response, backend in ((bull, "bullmq"), (rq_retry, "rq")):
        assert response.status_code == 503
        message = response.json()["error"]["message"]
        assert message.startswith(f"{backend} on redis://")
        assert "cannot connect" in message
        assert PASSWORD not in response.text
    assert [row["outcome"] for row in rows] == ["error", "error"]
    assert all(PASSWORD not in str(row) for row in rows)
    logged = capsys.readouterr()
    assert "/v1/queues/jobs/orders/pause" in logged.out  # the access log was captured
    assert PASSWORD not in logged.out + logged.err


async def test_queue_actions_need_the_monitors_to_run_here(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await client.post(
        "/v1/queues/jobs/orders/pause", json={"reason": "r"}, headers=admin_headers
    )

    assert response.status_code == 503
    assert response.json()["error"]["message"] == "monitors do not run in this process"
