"""Operator actions on the queues a ``queue`` monitor watches: pause, resume, retry failed
jobs, clean finished jobs older than a given age.

Each backend does what its own library offers, and says plainly what it cannot:

BullMQ (``bullmq`` for Python)
    ``Queue.pause()`` / ``resume()`` (the ``paused`` field of ``{p}:meta``: workers stop
    taking jobs, running ones finish), ``retryJobs(state="failed")``,
    ``clean(grace_ms, limit, type)``.
RQ
    No per-queue pause: ``rq.suspension.suspend`` stops every worker of the Redis database,
    whatever queue it serves, so a pause is refused unless the caller asks for exactly that
    (``all_workers``). A worker checks for suspension between jobs: one idle and already
    blocked waiting for a job (up to its dequeue timeout) still takes the next one. Retry
    is ``FailedJobRegistry.requeue``; clean removes and deletes the jobs of the finished or
    failed registry whose ``ended_at`` is older than the cutoff.
    RQ reads its key prefix once, from ``RQ_KEY_PREFIX`` when it is imported: a monitor
    with another prefix cannot be acted on from this process.
Celery (Redis broker)
    None of these: the broker has no pause, and failed or finished tasks are not kept on it
    (only their results, in the result backend, without the message to send again).

Cutoffs are wall-clock times: the brokers stamp jobs with the wall clock, and BullMQ computes
its own cutoff from ``time.time()``.

Errors: ``UnsupportedQueueActionError`` (the backend cannot do it; nothing was touched) and
``QueueBrokerError`` (the broker could not be reached or refused; the message holds no
secret), both ``QueueActionError``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from tradewarden.probes.kinds._redis_common import describe_redis_error
from tradewarden.probes.kinds.queue import QueueSpec, _connect, _scrubber

__all__ = [
    "CleanState",
    "QueueAction",
    "QueueActionError",
    "QueueActionResult",
    "QueueBrokerError",
    "UnsupportedQueueActionError",
    "bullmq_queue",
    "clean_queue",
    "pause_queue",
    "resume_queue",
    "retry_failed",
    "rq_connection",
    "rq_prefix_problem",
    "unsupported",
]

QueueAction = Literal["pause", "resume", "retry-failed", "clean"]
CleanState = Literal["completed", "failed"]

_RQ_FETCH_BATCH = 500
_T = TypeVar("_T")


class QueueActionError(Exception):
    """A queue action did not happen. The message says why and holds no secret;
    ``permanent`` tells whether trying again can help."""

    permanent = True


class UnsupportedQueueActionError(QueueActionError):
    """The backend cannot do this; nothing was touched."""


class QueueBrokerError(QueueActionError):
    """The broker could not be reached, timed out or refused the commands."""

    permanent = False


@dataclass(frozen=True, slots=True)
class QueueActionResult:
    """What an action did: the queue's paused flag after it, jobs retried or removed."""

    action: QueueAction
    queue: str
    backend: str
    paused: bool | None = None
    retried: int | None = None
    removed: int | None = None
    details: dict[str, Any] = field(default_factory=dict)


_CELERY_CANNOT: dict[QueueAction, str] = {
    "pause": (
        "a Redis broker has no pause; workers stop consuming a queue only when each is told"
        " to (celery control cancel_consumer), which a restarted worker forgets"
    ),
    "retry-failed": (
        "failed tasks are not kept on the broker; a failure is only a result in the result"
        " backend, without the message to send again"
    ),
    "clean": (
        "finished tasks are not kept on the broker; their results live in the result backend"
        " and expire after result_expires"
    ),
}
_CELERY_CANNOT["resume"] = _CELERY_CANNOT["pause"]
_RQ_PAUSE_CAVEAT = (
    "a worker already waiting for a job when suspended takes the next one, then stops"
)


def rq_prefix_problem(spec: QueueSpec) -> str | None:
    """Return why RQ's API in this process cannot reach ``spec``'s keys, or None."""
    from rq.defaults import RQ_KEY_PREFIX

    if spec.key_prefix == RQ_KEY_PREFIX:
        return None
    return (
        f"it uses the key prefix {spec.key_prefix!r}, and RQ in this process uses"
        f" {RQ_KEY_PREFIX!r} (RQ_KEY_PREFIX, read once when rq is imported)"
    )


def unsupported(spec: QueueSpec, action: QueueAction, *, all_workers: bool = False) -> str | None:
    """Return why ``action`` cannot be done on ``spec``'s backend, or None when it can."""
    if spec.backend == "celery":
        return f"{action} is not supported by Celery: {_CELERY_CANNOT[action]}"
    if spec.backend != "rq":
        return None
    problem = rq_prefix_problem(spec)
    if problem is not None:
        return f"{action} is not supported for this RQ monitor: {problem}"
    if action in {"pause", "resume"} and not all_workers:
        return (
            f"{action} of one queue is not supported by RQ: RQ suspends every worker of a"
            " Redis database at once (rq suspend), whatever queue it serves; send"
            f' "all_workers": true to {"suspend" if action == "pause" else "resume"} all of them'
        )
    return None


def _refuse(spec: QueueSpec, action: QueueAction, all_workers: bool = False) -> None:
    reason = unsupported(spec, action, all_workers=all_workers)
    if reason is not None:
        raise UnsupportedQueueActionError(reason)


def _check_queue(spec: QueueSpec, queue: str) -> None:
    # Only the queues a monitor names can be acted on: a typo must not create a queue.
    if queue not in spec.queues:
        raise ValueError(f"monitor {spec.name!r} does not watch queue {queue!r}")


async def _on_broker(
    spec: QueueSpec,
    bull: Callable[[str, float], Awaitable[_T]],
    rq: Callable[[str, float], _T],
    timeout_s: float | None,
) -> _T:
    """Run ``bull(broker_url, timeout_s)`` on BullMQ, ``rq`` (blocking) in a thread on RQ;
    wrap every failure in ``QueueBrokerError``.

    Each command is bounded by ``timeout_s`` (socket timeouts, no retry), the whole action
    is not: cancelling a retry of many jobs half-way would leave it half done while the
    answer said it failed.
    """
    timeout_s = spec.timeout_s if timeout_s is None else timeout_s
    try:
        broker_url, result_url = await asyncio.to_thread(spec.resolve_urls)
    except ValueError as exc:
        raise QueueBrokerError(str(exc)) from None
    scrub = _scrubber(broker_url, result_url)
    try:
        if spec.backend == "bullmq":
            return await bull(broker_url, timeout_s)
        return await asyncio.to_thread(rq, broker_url, timeout_s)
    except QueueActionError:
        raise
    except Exception as exc:  # noqa: BLE001 - every failure is reported with its reason
        raise QueueBrokerError(
            f"{spec.backend} on {scrub(broker_url)}: {scrub(describe_redis_error(exc, timeout_s))}"
        ) from None


@contextlib.contextmanager
def rq_connection(url: str, timeout_s: float) -> Iterator[redis.Redis]:
    """Yield a blocking Redis client for RQ's API: one attempt per command, timeouts set."""
    client = redis.Redis.from_url(
        url,
        socket_connect_timeout=timeout_s,
        socket_timeout=timeout_s,
        retry=Retry(NoBackoff(), 0),
        client_name="tradewarden-ops",
        protocol=2,
    )
    try:
        yield client
    finally:
        client.close()


def bullmq_queue(client: Any, spec: QueueSpec, queue: str) -> Any:
    """Return a ``bullmq.Queue`` for ``queue`` on ``client``.

    Handed our client, bullmq uses it as is: our timeouts, no retry loop of its own. Do not
    close the queue: that would close the client, which its ``_connect`` block owns.
    """
    import bullmq  # type: ignore[import-untyped]

    return bullmq.Queue(queue, {"connection": client, "prefix": spec.key_prefix})


# --- pause and resume ---------------------------------------------------------------------


async def _set_paused(
    spec: QueueSpec, queue: str, paused: bool, all_workers: bool, timeout_s: float | None
) -> QueueActionResult:
    action: QueueAction = "pause" if paused else "resume"
    _check_queue(spec, queue)
    _refuse(spec, action, all_workers)

    async def bull(url: str, timeout_s: float) -> QueueActionResult:
        async with _connect(url, timeout_s) as client:
            target = bullmq_queue(client, spec, queue)
            await (target.pause() if paused else target.resume())
            now_paused = bool(await target.isPaused())
        return QueueActionResult(action, queue, spec.backend, paused=now_paused)

    def rq_sync(url: str, timeout_s: float) -> QueueActionResult:
        from rq.suspension import is_suspended, resume, suspend

        with rq_connection(url, timeout_s) as connection:
            if paused:
                suspend(connection)
            else:
                resume(connection)
            now_paused = bool(is_suspended(connection))
        details = {"scope": "every RQ worker of this Redis database"}
        if paused:
            details["caveat"] = _RQ_PAUSE_CAVEAT
        return QueueActionResult(action, queue, spec.backend, paused=now_paused, details=details)

    return await _on_broker(spec, bull, rq_sync, timeout_s)


async def pause_queue(
    spec: QueueSpec, queue: str, *, all_workers: bool = False, timeout_s: float | None = None
) -> QueueActionResult:
    """Pause ``queue``: workers finish running jobs and take no new ones.

    On RQ this needs ``all_workers`` and suspends every worker of the Redis database.
    """
    return await _set_paused(spec, queue, True, all_workers, timeout_s)


async def resume_queue(
    spec: QueueSpec, queue: str, *, all_workers: bool = False, timeout_s: float | None = None
) -> QueueActionResult:
    """Resume ``queue`` (on RQ, with ``all_workers``: every worker of the Redis database)."""
    return await _set_paused(spec, queue, False, all_workers, timeout_s)


# --- retry failed jobs --------------------------------------------------------------------


def _rq_retry(connection: redis.Redis, queue: str) -> dict[str, int]:
    from rq.exceptions import InvalidJobOperation, NoSuchJobError
    from rq.registry import FailedJobRegistry

    registry = FailedJobRegistry(queue, connection=connection)
    counts = {"retried": 0, "missing": 0}
    for job_id in registry.get_job_ids():
        try:
            registry.requeue(job_id)
        except NoSuchJobError:
            # The job's data expired before its registry entry: nothing left to run.
            registry.remove(job_id)
            counts["missing"] += 1
        except InvalidJobOperation:
            continue  # requeued or removed by someone else meanwhile
        else:
            counts["retried"] += 1
    return counts


async def retry_failed(
    spec: QueueSpec, queue: str, *, timeout_s: float | None = None
) -> QueueActionResult:
    """Move every failed job of ``queue`` back to waiting; return how many moved."""
    _check_queue(spec, queue)
    _refuse(spec, "retry-failed")

    async def bull(url: str, timeout_s: float) -> QueueActionResult:
        # retryJobs reports no count: count the failed jobs up to the cutoff before and
        # after (a job failing again meanwhile is scored after the cutoff).
        cutoff_ms = round(time.time() * 1000)
        async with _connect(url, timeout_s) as client:
            target = bullmq_queue(client, spec, queue)
            failed_key = target.toKey("failed")
            before = int(await client.zcount(failed_key, "-inf", cutoff_ms))
            await target.retryJobs({"state": "failed", "timestamp": cutoff_ms})
            after = int(await client.zcount(failed_key, "-inf", cutoff_ms))
        return QueueActionResult("retry-failed", queue, spec.backend, retried=before - after)

    def rq_sync(url: str, timeout_s: float) -> QueueActionResult:
        with rq_connection(url, timeout_s) as connection:
            counts = _rq_retry(connection, queue)
        return QueueActionResult(
            "retry-failed",
            queue,
            spec.backend,
            retried=counts["retried"],
            details={"missing": counts["missing"]},
        )

    return await _on_broker(spec, bull, rq_sync, timeout_s)


# --- clean finished jobs ------------------------------------------------------------------


def _batches(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _rq_clean(
    connection: redis.Redis, queue: str, state: CleanState, cutoff_s: float, limit: int | None
) -> int:
    from rq.job import Job
    from rq.registry import FailedJobRegistry, FinishedJobRegistry

    registry_class = FinishedJobRegistry if state == "completed" else FailedJobRegistry
    registry = registry_class(queue, connection=connection)
    removed = 0
    # Scored by expiry, so roughly oldest first when every job has the same result TTL.
    for batch in _batches(registry.get_job_ids(), _RQ_FETCH_BATCH):
        for job in Job.fetch_many(batch, connection=connection):
            if limit is not None and removed >= limit:
                return removed
            if job is None or job.ended_at is None or job.ended_at.timestamp() > cutoff_s:
                continue
            registry.remove(job, delete_job=True)
            removed += 1
    return removed


async def clean_queue(
    spec: QueueSpec,
    queue: str,
    *,
    state: CleanState,
    older_than_s: float,
    limit: int | None = None,
    timeout_s: float | None = None,
) -> QueueActionResult:
    """Remove (and delete) ``state`` jobs of ``queue`` that finished more than
    ``older_than_s`` seconds ago, at most ``limit`` of them; return how many went."""
    if older_than_s <= 0:
        raise ValueError("older_than_s must be above 0")
    _check_queue(spec, queue)
    _refuse(spec, "clean")
    details: dict[str, Any] = {"state": state, "older_than_s": older_than_s, "limit": limit}

    async def bull(url: str, timeout_s: float) -> QueueActionResult:
        async with _connect(url, timeout_s) as client:
            target = bullmq_queue(client, spec, queue)
            ids = await target.clean(round(older_than_s * 1000), limit or 0, state)
        return QueueActionResult("clean", queue, spec.backend, removed=len(ids), details=details)

    def rq_sync(url: str, timeout_s: float) -> QueueActionResult:
        with rq_connection(url, timeout_s) as connection:
            removed = _rq_clean(connection, queue, state, time.time() - older_than_s, limit)
        return QueueActionResult("clean", queue, spec.backend, removed=removed, details=details)

    return await _on_broker(spec, bull, rq_sync, timeout_s)
