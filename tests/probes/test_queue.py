"""The queue kind against real BullMQ, RQ and Celery queues and workers on a private Redis."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from pydantic import ValidationError
from rq.suspension import suspend

from probes._queue_workers import (
    FAIL,
    HOLD,
    SUCCEED,
    WORKER_TIMEOUT_S,
    bull_queue,
    celery_worker_argv,
    enqueue_rq,
    fill_bullmq,
    make_celery_app,
    rq_worker_argv,
    running,
)
from support.eventually import eventually
from support.redis_server import RedisServer
from tradewarden.clock import ManualClock
from tradewarden.probes._model import ProbeContext, ProbeResult
from tradewarden.probes.kinds.queue import QueueReadError, QueueSpec, QueueStats, queue_stats

pytestmark = [pytest.mark.redis, pytest.mark.slow]

PASSWORD = "qu3ue-s3cret"


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RedisServer]:
    with RedisServer(tmp_path / "redis") as private:
        yield private


def spec(**fields: Any) -> QueueSpec:
    return QueueSpec(name="jobs", **fields)


async def check(
    http: httpx.AsyncClient, clock: ManualClock | None = None, **fields: Any
) -> ProbeResult:
    ctx = ProbeContext(clock=clock or ManualClock(), timeout_s=10.0, http=http)
    return await spec(**fields).build().run(ctx)


def values(result: ProbeResult, queue: str) -> dict[str, float]:
    """Return the samples of ``queue``: ``queue_jobs:waiting`` for labelled states."""
    found = {}
    for sample in result.samples:
        assert "redis://" not in str(dict(sample.labels))
        if sample.labels.get("queue") != queue:
            continue
        state = sample.labels.get("state")
        found[f"{sample.name}:{state}" if state else sample.name] = sample.value
    return found


# --- BullMQ -------------------------------------------------------------------------------


async def test_bullmq_reports_states_failures_and_processing_time(
    http: httpx.AsyncClient, server: RedisServer
) -> None:
    async with bull_queue(server.url()) as queue:
        oldest_s = await fill_bullmq(queue, server.url())
        clock = ManualClock(start=oldest_s + 90)

        result = await check(http, clock, backend="bullmq", url=server.url(), queues=["orders"])

    assert result.success, result.error
    assert not result.degraded
    got = values(result, "orders")
    assert got["queue_jobs:waiting"] == 2
    assert got["queue_jobs:prioritized"] == 1
    assert got["queue_jobs:delayed"] == 1
    assert got["queue_jobs:active"] == 0
    assert got["queue_jobs:completed"] == 3
    assert got["queue_jobs:failed"] == 2
    assert got["queue_jobs:paused"] == 0
    assert got["queue_finished_jobs:completed"] == 3
    assert got["queue_finished_jobs:failed"] == 2
    assert got["queue_paused"] == 0
    assert got["queue_failure_ratio"] == pytest.approx(0.4)
    assert got["queue_processing_seconds_avg"] > 0
    assert got["queue_oldest_waiting_seconds"] == pytest.approx(90, abs=0.01)


async def test_bullmq_thresholds_degrade_naming_queue_and_value(
    http: httpx.AsyncClient, server: RedisServer
) -> None:
    async with bull_queue(server.url()) as queue:
        oldest_s = await fill_bullmq(queue, server.url())
        clock = ManualClock(start=oldest_s + 90)
        fields: dict[str, Any] = {"backend": "bullmq", "url": server.url(), "queues": ["orders"]}

        within = await check(
            http,
            clock,
            max_waiting=3,
            max_oldest_waiting_s=120,
            max_failed=2,
            max_failure_ratio=0.5,
            max_processing_s_avg=60,
            **fields,
        )
        beyond = await check(
            http,
            clock,
            max_waiting=2,
            max_oldest_waiting_s=60,
            max_failure_ratio=0.1,
            max_processing_s_avg=0.001,  # each job sleeps 0.02 s
            **fields,
        )
        failed = await check(http, clock, max_failed=1, **fields)

    assert within.success
    assert not within.degraded, within.error
    assert beyond.success
    assert beyond.degraded
    assert beyond.error is not None
    assert "queue orders: 3 jobs waiting (above 2)" in beyond.error
    assert "queue orders: oldest waiting job has waited 90 s (above 60 s)" in beyond.error
    assert "queue orders: 40.0% of jobs failed in 24h (above 10.0%)" in beyond.error
    assert "queue orders: jobs took " in beyond.error
    assert "s on average (above 0.001 s)" in beyond.error
    assert failed.degraded
    assert failed.error == "queue orders: 2 jobs failed in 24h (above 1)"


async def test_bullmq_paused_queue_reads_paused_and_fails_when_asked(
    http: httpx.AsyncClient, server: RedisServer
) -> None:
    fields: dict[str, Any] = {"backend": "bullmq", "url": server.url(), "queues": ["orders"]}
    async with bull_queue(server.url()) as queue:
        await queue.add("ok", {})
        await queue.pause()

        tolerated = await check(http, **fields)
        failed = await check(http, fail_when_paused=True, **fields)

        await queue.resume()
        resumed = await check(http, fail_when_paused=True, **fields)

    assert tolerated.success
    assert values(tolerated, "orders")["queue_paused"] == 1
    # BullMQ moves the waiting jobs to the paused list or leaves them in wait (versions
    # differ; both are read): either way the one job is still backlog.
    read = values(tolerated, "orders")
    assert read["queue_jobs:waiting"] + read["queue_jobs:paused"] == 1
    assert not failed.success
    assert failed.error == "queue orders is paused (fail_when_paused)"
    assert values(failed, "orders")["queue_paused"] == 1
    assert resumed.success
    assert values(resumed, "orders")["queue_paused"] == 0


async def test_stats_count_finished_jobs_over_the_time_range(server: RedisServer) -> None:
    monitor = spec(backend="bullmq", url=server.url(), queues=["orders"], time_range="1h")
    async with bull_queue(server.url()) as queue:
        oldest_s = await fill_bullmq(queue, server.url())

        two_hours_on = await queue_stats(monitor, now_s=oldest_s + 7_200)
        over_a_day = await queue_stats(monitor, now_s=oldest_s + 7_200, time_range="24h")

    (recent,) = two_hours_on
    assert recent.time_range == "1h"
    assert recent.counts["completed"] == 3  # still kept, but finished over an hour ago
    assert (recent.completed_in_range, recent.failed_in_range) == (0, 0)
    assert recent.failure_ratio is None
    assert recent.processing_s_avg is None
    (day,) = over_a_day
    assert (day.completed_in_range, day.failed_in_range) == (3, 2)
    assert day.failure_ratio == pytest.approx(0.4)
    assert day.waiting == 3  # waiting and prioritized


async def test_unknown_queue_degrades_as_a_likely_typo(
    http: httpx.AsyncClient, server: RedisServer
) -> None:
    async with bull_queue(server.url()) as queue:
        await queue.add("ok", {})

        result = await check(http, backend="bullmq", url=server.url(), queues=["orders", "ordres"])

    assert result.success
    assert result.degraded
    assert result.error == "queue ordres: no such queue: no job was ever added under this name"
    assert values(result, "orders")["queue_jobs:waiting"] == 1


# --- RQ -----------------------------------------------------------------------------------


async def test_rq_reports_jobs_a_real_worker_finished_and_failed(
    http: httpx.AsyncClient, server: RedisServer, tmp_path: Path
) -> None:
    work = [("probes._queue_workers.succeed", (index,)) for index in range(3)]
    work += [("probes._queue_workers.fail", ())] * 2
    await asyncio.to_thread(enqueue_rq, server.url(), "reports", work)
    with running(rq_worker_argv(server.url(), "reports"), tmp_path / "rq.log") as worker:
        assert await asyncio.to_thread(worker.wait, WORKER_TIMEOUT_S) == 0
    waiting = await asyncio.to_thread(
        enqueue_rq,
        server.url(),
        "reports",
        [("probes._queue_workers.succeed", (index,)) for index in range(2)],
    )
    clock = ManualClock(start=waiting[0].enqueued_at.timestamp() + 45)
    fields: dict[str, Any] = {"backend": "rq", "url": server.url(), "queues": ["reports"]}

    result = await check(http, clock, **fields)

    assert result.success, result.error
    assert not result.degraded, result.error
    got = values(result, "reports")
    assert got["queue_jobs:waiting"] == 2
    assert got["queue_jobs:active"] == 0
    assert got["queue_jobs:completed"] == 3
    assert got["queue_jobs:failed"] == 2
    assert got["queue_jobs:delayed"] == 0
    assert got["queue_jobs:deferred"] == 0
    assert got["queue_finished_jobs:completed"] == 3
    assert got["queue_finished_jobs:failed"] == 2
    assert got["queue_failure_ratio"] == pytest.approx(0.4)
    assert got["queue_processing_seconds_avg"] > 0
    assert got["queue_oldest_waiting_seconds"] == pytest.approx(45, abs=0.01)
    assert got["queue_paused"] == 0

    def _suspend() -> None:
        with redis.Redis.from_url(server.url()) as connection:
            suspend(connection)

    await asyncio.to_thread(_suspend)
    suspended = await check(http, clock, fail_when_paused=True, **fields)

    assert not suspended.success
    assert suspended.error == "queue reports is paused (fail_when_paused)"
    assert values(suspended, "reports")["queue_paused"] == 1


# --- Celery -------------------------------------------------------------------------------


def _send_celery(broker_url: str, tasks: list[tuple[str, str, tuple[Any, ...]]]) -> None:
    app = make_celery_app(broker_url)
    try:
        for name, queue, args in tasks:
            app.send_task(name, args=args, queue=queue)
    finally:
        app.close()


async def test_celery_backlog_drains_when_a_real_worker_starts(
    http: httpx.AsyncClient, server: RedisServer, tmp_path: Path
) -> None:
    broker, results = server.url(db=0), server.url(db=1)
    tasks = [(SUCCEED, "emails", (index,)) for index in range(3)]
    tasks += [(FAIL, "emails", ())] * 2
    tasks += [(SUCCEED, "reports", (index,)) for index in range(2)]
    await asyncio.to_thread(_send_celery, broker, tasks)
    queues = ["emails", "reports"]

    before = await check(http, backend="celery", url=broker, queues=queues)

    assert before.success, before.error
    assert values(before, "emails") == {"queue_jobs:waiting": 5, "queue_jobs:reserved": 0}
    assert values(before, "reports") == {"queue_jobs:waiting": 2, "queue_jobs:reserved": 0}

    argv = celery_worker_argv(broker, results, ["emails"])
    with running(argv, tmp_path / "celery.log"):

        async def emails_done() -> bool:
            stats = await queue_stats(
                spec(backend="celery", url=broker, result_url=results, queues=queues),
                now_s=time.time(),
            )
            emails = stats[0]
            return (
                emails.counts["waiting"] == 0
                and emails.counts.get("completed", 0) + (emails.counts.get("failed", 0)) == 5
            )

        await eventually(emails_done, timeout_s=WORKER_TIMEOUT_S, interval_s=0.1)

    clock = ManualClock(start=time.time())
    after = await check(
        http,
        clock,
        backend="celery",
        url=broker,
        result_url=results,
        queues=queues,
        max_failure_ratio=0.5,
    )

    assert after.success, after.error
    assert not after.degraded, after.error
    emails = values(after, "emails")
    assert emails["queue_jobs:waiting"] == 0
    assert emails["queue_jobs:completed"] == 3
    assert emails["queue_jobs:failed"] == 2
    assert emails["queue_finished_jobs:completed"] == 3
    assert emails["queue_failure_ratio"] == pytest.approx(0.4)
    # What Celery cannot tell is left out rather than reported as zero.
    assert "queue_oldest_waiting_seconds" not in emails
    assert "queue_processing_seconds_avg" not in emails
    assert "queue_paused" not in emails
    assert values(after, "reports")["queue_jobs:waiting"] == 2


async def test_celery_counts_a_running_task_as_reserved(
    http: httpx.AsyncClient, server: RedisServer, tmp_path: Path
) -> None:
    broker = server.url()
    await asyncio.to_thread(_send_celery, broker, [(HOLD, "slow", ("release",))])
    fields: dict[str, Any] = {"backend": "celery", "url": broker, "queues": ["slow"]}

    with running(celery_worker_argv(broker, None, ["slow"]), tmp_path / "celery.log"):

        async def held() -> bool:
            got = values(await check(http, **fields), "slow")
            return got == {"queue_jobs:waiting": 0, "queue_jobs:reserved": 1}

        await eventually(held, timeout_s=WORKER_TIMEOUT_S, interval_s=0.1)

        def _release() -> None:
            with redis.Redis.from_url(broker) as connection:
                connection.set("release", 1)

        await asyncio.to_thread(_release)

        async def acknowledged() -> bool:
            return values(await check(http, **fields), "slow")["queue_jobs:reserved"] == 0

        await eventually(acknowledged, timeout_s=WORKER_TIMEOUT_S, interval_s=0.1)


# --- failures and configuration -----------------------------------------------------------


async def test_unreachable_redis_fails_without_the_password(
    http: httpx.AsyncClient, tmp_path: Path
) -> None:
    with RedisServer(tmp_path / "locked", password=PASSWORD) as locked:
        url = locked.url()
        up = await check(http, backend="rq", url=url, queues=["reports"])
        locked.stop()

        down = await check(http, backend="rq", url=url, queues=["reports"])

    assert up.success, up.error
    assert not down.success
    assert down.error is not None
    assert down.error.startswith("rq on redis://")
    assert "cannot connect" in down.error
    assert PASSWORD not in down.error
    assert down.samples == ()


async def test_silent_server_times_out(http: httpx.AsyncClient) -> None:
    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while await reader.read(4096):
                pass
        writer.close()

    silent = await asyncio.start_server(swallow, "127.0.0.1", 0)
    port = silent.sockets[0].getsockname()[1]
    try:
        monitor = spec(backend="bullmq", url=f"redis://127.0.0.1:{port}/0", queues=["orders"])
        ctx = ProbeContext(clock=ManualClock(), timeout_s=0.3, http=http)

        result = await monitor.build().run(ctx)
    finally:
        silent.close()
        await silent.wait_closed()

    assert not result.success
    assert result.error is not None
    assert "timed out" in result.error


async def test_wrong_backend_is_an_error_reply_not_a_crash(
    http: httpx.AsyncClient, server: RedisServer
) -> None:
    with redis.Redis.from_url(server.url()) as connection:
        connection.set("bull:orders:wait", "not a list")

    result = await check(http, backend="bullmq", url=server.url(), queues=["orders"])

    assert not result.success
    assert result.error is not None
    assert "WRONGTYPE" in result.error


async def test_url_comes_from_env_or_file_and_says_when_missing(
    http: httpx.AsyncClient,
    server: RedisServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    secret_file = tmp_path / "redis-url"
    secret_file.write_text(server.url() + "\n", encoding="utf-8")
    monkeypatch.delenv("TW_QUEUE_TEST_URL", raising=False)

    from_file = await check(http, backend="rq", url_file=secret_file, queues=["reports"])
    unset = await check(http, backend="rq", url_env="TW_QUEUE_TEST_URL", queues=["reports"])
    monkeypatch.setenv("TW_QUEUE_TEST_URL", server.url())
    from_env = await check(http, backend="rq", url_env="TW_QUEUE_TEST_URL", queues=["reports"])

    assert from_file.success, from_file.error
    assert from_env.success, from_env.error
    assert not unset.success
    assert unset.error == "environment variable TW_QUEUE_TEST_URL (url_env) is not set"


async def test_stats_raise_a_safe_error_when_redis_is_down(tmp_path: Path) -> None:
    with RedisServer(tmp_path / "gone", password=PASSWORD) as gone:
        monitor = spec(backend="bullmq", url=gone.url(), queues=["orders"])
        gone.stop()

        with pytest.raises(QueueReadError) as caught:
            await queue_stats(monitor, now_s=0.0, timeout_s=5.0)

    assert PASSWORD not in str(caught.value)
    assert str(caught.value).startswith("bullmq on redis://")


@pytest.mark.parametrize(
    ("fields", "names"),
    [
        ({"backend": "bullmq", "queues": ["q"]}, "set exactly one of url, url_env, url_file"),
        (
            {"backend": "bullmq", "queues": ["q"], "url": "redis://h", "url_env": "X"},
            "got url, url_env",
        ),
        ({"backend": "bullmq", "url": "redis://h", "queues": []}, "queues"),
        ({"backend": "bullmq", "url": "redis://h", "queues": ["q", "q"]}, "more than once: q"),
        ({"backend": "bullmq", "url": "redis://h", "queues": ["a b"]}, "queues.0"),
        ({"backend": "kafka", "url": "redis://h", "queues": ["q"]}, "backend"),
        ({"backend": "rq", "url": "redis://h", "queues": ["q"], "time_range": "2h"}, "time_range"),
        ({"backend": "rq", "url": "redis://h", "queues": ["q"], "max_waiting": -1}, "max_waiting"),
        ({"backend": "rq", "url": "http://h", "queues": ["q"]}, "url"),
        (
            {"backend": "rq", "url": "redis://h", "queues": ["q"], "result_url": "redis://h"},
            "result_url is for backend celery only",
        ),
        (
            {
                "backend": "celery",
                "url": "redis://h",
                "queues": ["q"],
                "max_oldest_waiting_s": 60,
            },
            "max_oldest_waiting_s is not available for backend celery",
        ),
        (
            {"backend": "celery", "url": "redis://h", "queues": ["q"], "max_failed": 1},
            "max_failed needs result_url",
        ),
        (
            {"backend": "celery", "url": "redis://h", "queues": ["q"], "fail_when_paused": True},
            "fail_when_paused is not available for backend celery",
        ),
        (
            {"backend": "bullmq", "url": "redis://h", "queues": ["q"] * 51},
            "queues",
        ),
        (
            {
                "backend": "celery",
                "url": "redis://h",
                "queues": ["q"],
                "result_url": "redis://h",
                "result_url_env": "RESULTS",
            },
            "got result_url, result_url_env",
        ),
        (
            {"backend": "celery", "url": "redis://h", "queues": ["q"], "result_url": "file:///x"},
            "result_url must be a redis://",
        ),
    ],
)
def test_invalid_spec_names_the_field(fields: dict[str, Any], names: str) -> None:
    with pytest.raises(ValidationError) as caught:
        spec(**fields)

    assert names in str(caught.value)


def test_invalid_url_is_not_echoed() -> None:
    with pytest.raises(ValidationError) as caught:
        spec(backend="rq", url=f"http://:{PASSWORD}@h", queues=["q"])

    assert "url" in str(caught.value)
    assert PASSWORD not in str(caught.value)


def test_prefix_defaults_per_backend() -> None:
    fields: dict[str, Any] = {"url": "redis://h", "queues": ["q"]}

    assert spec(backend="bullmq", **fields).key_prefix == "bull"
    assert spec(backend="rq", **fields).key_prefix == "rq"
    assert spec(backend="celery", **fields).key_prefix == ""
    assert spec(backend="bullmq", prefix="{app}", **fields).key_prefix == "{app}"


def test_stats_without_finished_jobs_have_no_ratio() -> None:
    stats = QueueStats(
        queue="q",
        backend="bullmq",
        time_range="1h",
        at=0.0,
        counts={"waiting": 2, "prioritized": 1, "paused": 1, "active": 5},
        completed_in_range=0,
        failed_in_range=0,
    )

    assert stats.failure_ratio is None
    assert stats.waiting == 4
