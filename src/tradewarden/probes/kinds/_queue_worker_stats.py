"""The workers a ``queue`` monitor's broker knows, read with each backend's own library.

BullMQ
    ``Queue.get_workers()``: the Redis connections named after the queue (``CLIENT LIST``).
    BullMQ has no worker registry: a worker is one or two connections (its blocking one
    too), it publishes no counts, and what it is doing cannot be told, so ``state`` is
    ``unknown``; the connection's age, idle time and last command are reported instead.
RQ
    ``Worker.all()``: name, state (``busy``, ``idle``, ``suspended``, ``started``), current
    job, successful and failed job counts, last heartbeat, for the workers that serve one
    of the monitor's queues.
Celery
    The remote control (``inspect().stats()``, ``active()``, ``active_queues()``), which
    waits a fixed time for replies: only workers that answer within it are listed, and a
    worker of the ``solo`` pool busy with a task does not answer. Celery counts tasks run,
    not their outcome (``processed``). It is imported only here; without it the workers of
    a Celery monitor are not known.

Everything is bounded in time by the caller's ``timeout_s``; failures raise
``QueueReadError`` with a message that holds no secret.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tradewarden.probes.kinds._queue_ops import bullmq_queue, rq_connection, rq_prefix_problem
from tradewarden.probes.kinds._redis_common import describe_redis_error
from tradewarden.probes.kinds.queue import QueueReadError, QueueSpec, _connect, _scrubber

__all__ = ["CELERY_REPLY_WAIT_S", "QueueWorker", "queue_workers"]

# How long the Celery remote control waits for replies (it always waits this long).
CELERY_REPLY_WAIT_S = 1.0


@dataclass(frozen=True, slots=True)
class QueueWorker:
    """One worker (for BullMQ: one connection) and what its broker says of it."""

    name: str
    queues: tuple[str, ...]
    state: str = "unknown"
    current_jobs: tuple[str, ...] = ()
    successful: int | None = None
    failed: int | None = None
    processed: int | None = None
    last_heartbeat_s: float | None = None
    details: dict[str, Any] = field(default_factory=dict)


async def _bullmq(spec: QueueSpec, url: str, timeout_s: float) -> list[QueueWorker]:
    async with _connect(url, timeout_s) as client:
        found = [
            (queue, await bullmq_queue(client, spec, queue).get_workers()) for queue in spec.queues
        ]
    return [
        QueueWorker(
            name=str(connection.get("rawname", "")),
            queues=(queue,),
            details={
                "addr": connection.get("addr"),
                "age_s": _int_or_none(connection.get("age")),
                "idle_s": _int_or_none(connection.get("idle")),
                "last_command": connection.get("cmd"),
            },
        )
        for queue, connections in found
        for connection in connections
    ]


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _rq(spec: QueueSpec, url: str, timeout_s: float) -> list[QueueWorker]:
    from rq.worker import Worker

    problem = rq_prefix_problem(spec)
    if problem is not None:
        raise ValueError(f"cannot read RQ workers: {problem}")
    watched = set(spec.queues)
    workers = []
    with rq_connection(url, timeout_s) as connection:
        for worker in Worker.all(connection=connection):
            queues = tuple(worker.queue_names())
            if not watched.intersection(queues):
                continue
            current = worker.get_current_job_id()
            workers.append(
                QueueWorker(
                    name=worker.name,
                    queues=queues,
                    state=str(worker.get_state()),
                    current_jobs=(current,) if current else (),
                    successful=worker.successful_job_count,
                    failed=worker.failed_job_count,
                    last_heartbeat_s=(
                        worker.last_heartbeat.timestamp() if worker.last_heartbeat else None
                    ),
                    details={
                        "hostname": worker.hostname,
                        "pid": worker.pid,
                        "birth_s": worker.birth_date.timestamp() if worker.birth_date else None,
                    },
                )
            )
    return workers


def _celery_ask(url: str, prefix: str, command: str, wait_s: float) -> dict[str, Any]:
    """Broadcast one inspect ``command`` and return the replies by worker name."""
    try:
        from celery import Celery  # type: ignore[import-untyped, unused-ignore]
    except ImportError:
        raise ValueError(
            "celery is not installed here: a Celery broker's workers are read with"
            " celery's remote control"
        ) from None
    options: dict[str, Any] = {"socket_timeout": wait_s, "socket_connect_timeout": wait_s}
    if prefix:
        options["global_keyprefix"] = prefix
    app = Celery("tradewarden-inspect", broker=url, set_as_current=False)
    app.conf.update(
        broker_transport_options=options,
        broker_connection_retry=False,
        broker_connection_max_retries=0,
        broker_connection_timeout=wait_s,
    )
    try:
        replies = getattr(app.control.inspect(timeout=wait_s), command)()
    finally:
        app.close()
    return dict(replies or {})


async def _celery(spec: QueueSpec, url: str, timeout_s: float) -> list[QueueWorker]:
    # A down broker is told at once by one PING, not after kombu's connection retries.
    async with _connect(url, timeout_s) as client:
        await client.ping()
    wait_s = min(CELERY_REPLY_WAIT_S, timeout_s)
    stats, active, queues = await asyncio.gather(
        *(
            asyncio.to_thread(_celery_ask, url, spec.key_prefix, command, wait_s)
            for command in ("stats", "active", "active_queues")
        )
    )
    watched = set(spec.queues)
    workers = []
    for name in sorted(set(stats) | set(active) | set(queues)):
        consumed = tuple(str(queue.get("name")) for queue in queues.get(name) or ())
        if not watched.intersection(consumed):
            continue
        running = active.get(name) or []
        total = (stats.get(name) or {}).get("total")
        workers.append(
            QueueWorker(
                name=name,
                queues=consumed,
                state="busy" if running else "idle",
                current_jobs=tuple(str(task.get("id")) for task in running),
                processed=sum(total.values()) if isinstance(total, dict) else None,
                details={"pid": (stats.get(name) or {}).get("pid")},
            )
        )
    return workers


async def queue_workers(spec: QueueSpec, *, timeout_s: float) -> tuple[QueueWorker, ...]:
    """Return the workers serving ``spec``'s queues, read within about ``timeout_s``.

    Raise ``QueueReadError`` with a message safe to show when they cannot be read.
    """
    try:
        broker_url, result_url = await asyncio.to_thread(spec.resolve_urls)
    except ValueError as exc:
        raise QueueReadError(str(exc)) from None
    scrub: Callable[[str], str] = _scrubber(broker_url, result_url)
    # The Celery replies are awaited for their own fixed time on top of the connection.
    budget_s = timeout_s + (CELERY_REPLY_WAIT_S if spec.backend == "celery" else 0.0)
    try:
        async with asyncio.timeout(budget_s):
            if spec.backend == "bullmq":
                found = await _bullmq(spec, broker_url, timeout_s)
            elif spec.backend == "rq":
                found = await asyncio.to_thread(_rq, spec, broker_url, timeout_s)
            else:
                found = await _celery(spec, broker_url, timeout_s)
    except ValueError as exc:
        raise QueueReadError(scrub(str(exc))) from None
    except Exception as exc:  # noqa: BLE001 - every failure is reported with its reason
        raise QueueReadError(
            f"{spec.backend} on {scrub(broker_url)}: {scrub(describe_redis_error(exc, budget_s))}"
        ) from None
    return tuple(found)
