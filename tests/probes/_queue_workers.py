"""Jobs and workers for the queue kind's tests: RQ job functions and a Celery app.

RQ workers import the job functions by name (``probes._queue_workers.succeed``). A Celery
worker runs in a subprocess started with ``celery_worker_argv()``; the test process sends
tasks by name with an app from ``make_celery_app()``. Nothing is created at import time.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import bullmq
import redis
import rq
from celery import Celery

from support.eventually import eventually

TESTS_DIR = Path(__file__).resolve().parent.parent
WORKER_TIMEOUT_S = 60.0

SUCCEED = "tw.succeed"
FAIL = "tw.fail"
HOLD = "tw.hold"


def succeed(value: int = 0) -> int:
    """Do a little work and return ``value``: RQ job and Celery task."""
    time.sleep(0.02)
    return value


def fail() -> None:
    """Raise: RQ job and Celery task."""
    time.sleep(0.01)
    raise RuntimeError("this job fails on purpose")


def hold_until(url: str, release_key: str, limit_s: float = 30.0) -> None:
    """Run until ``release_key`` exists in the Redis at ``url`` (at most ``limit_s``): RQ job."""
    deadline = time.monotonic() + limit_s
    with redis.Redis.from_url(url) as client:
        while not client.exists(release_key) and time.monotonic() < deadline:
            time.sleep(0.02)


def make_celery_app(broker_url: str, result_url: str | None = None) -> Celery:
    """Return a Celery app on ``broker_url``; ``result_url`` adds a result backend."""
    app = Celery("tw_queue_tests", broker=broker_url, backend=result_url, set_as_current=False)
    app.conf.update(
        # The queue kind attributes results to queues only with extended results.
        result_extended=True,
        # A task stays unacked while it runs: the probe counts it as reserved.
        task_acks_late=True,
        worker_prefetch_multiplier=1,
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
    )
    app.task(name=SUCCEED)(succeed)
    app.task(name=FAIL)(fail)

    @app.task(name=HOLD)
    def hold(release_key: str, limit_s: float = 30.0) -> None:
        """Run until ``release_key`` exists in the broker's Redis (at most ``limit_s``)."""
        deadline = time.monotonic() + limit_s
        with redis.Redis.from_url(broker_url) as client:
            while not client.exists(release_key) and time.monotonic() < deadline:
                time.sleep(0.02)

    return app


def celery_worker_argv(broker_url: str, result_url: str | None, queues: list[str]) -> list[str]:
    """Return the command line of a one-process Celery worker consuming ``queues``."""
    return [
        sys.executable,
        "-m",
        "probes._queue_workers",
        broker_url,
        result_url or "-",
        ",".join(queues),
    ]


def _main(argv: list[str]) -> None:
    broker_url, result_url, queues = argv
    app = make_celery_app(broker_url, None if result_url == "-" else result_url)
    app.worker_main(
        [
            "worker",
            "--pool=solo",
            "--concurrency=1",
            f"--queues={queues}",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
            "--loglevel=INFO",
        ]
    )


if __name__ == "__main__":
    _main(sys.argv[1:])


def enqueue_rq(url: str, queue_name: str, jobs: list[tuple[str, tuple[Any, ...]]]) -> list[Any]:
    """Enqueue ``jobs`` (function path, args) on the RQ queue ``queue_name``; return them."""
    with redis.Redis.from_url(url) as connection:
        queue = rq.Queue(queue_name, connection=connection)
        return [queue.enqueue(function, *args) for function, args in jobs]


def rq_worker_argv(url: str, queue: str, *, burst: bool = True) -> list[str]:
    """Return the command line of an RQ worker on ``queue`` (``--burst``: exit when empty)."""
    rq_cli = Path(sys.executable).parent / "rq"
    return [
        str(rq_cli),
        "worker",
        *(["--burst"] if burst else []),
        "--url",
        url,
        "--path",
        str(TESTS_DIR),
        queue,
    ]


@contextlib.contextmanager
def running(argv: list[str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``argv`` (tests importable) with output to ``log``; stop it however the block ends."""
    env = {**os.environ, "PYTHONPATH": str(TESTS_DIR)}
    with log.open("ab") as out:
        process = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env
        )
        try:
            yield process
        finally:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=WORKER_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


async def _process(job: bullmq.Job, token: str) -> str:
    await asyncio.sleep(0.02)  # a measurable processing time
    if job.name == "boom":
        raise RuntimeError("this job fails on purpose")
    return "done"


@contextlib.asynccontextmanager
async def bull_queue(url: str, name: str = "orders") -> AsyncIterator[bullmq.Queue]:
    queue = bullmq.Queue(name, {"connection": url})
    try:
        yield queue
    finally:
        await queue.close()


async def close_worker(worker: bullmq.Worker) -> None:
    """Close a BullMQ worker without waiting on its fetch in flight.

    A plain ``close()`` waits for every processing task, and one blocked on the broker can
    keep it waiting for good (seen here: a test hung for over ten minutes); cancelling it
    does not help, since ``close()`` shields its teardown. The tests close workers once
    their jobs are done, so ``force`` loses nothing.
    """
    await worker.close(force=True)


async def fill_bullmq(queue: bullmq.Queue, url: str) -> float:
    """Finish 3 jobs and fail 2 with a real worker, then leave 4 unprocessed.

    Return the epoch seconds at which the oldest waiting job was added.
    """
    for index in range(3):
        await queue.add("ok", {"index": index})
    for index in range(2):
        await queue.add("boom", {"index": index})
    worker = bullmq.Worker(queue.name, _process, {"connection": url})
    try:

        async def all_finished() -> bool:
            counts = await queue.getJobCounts("completed", "failed")
            return counts["completed"] == 3 and counts["failed"] == 2

        await eventually(all_finished, timeout_s=WORKER_TIMEOUT_S)
    finally:
        await close_worker(worker)
    oldest = await queue.add("later", {"index": 0})
    await queue.add("later", {"index": 1})
    await queue.add("urgent", {}, {"priority": 1})
    await queue.add("tomorrow", {}, {"delay": 86_400_000})
    return float(oldest.timestamp) / 1000.0
