"""Read job queues straight from Redis: BullMQ, RQ and Celery, each in its own key layout.

Every reader takes an open ``redis.asyncio`` client and returns one ``QueueStats`` per
queue, in two pipelined round trips whatever the number of queues: the counts and the ids
worth a closer look first, then the job hashes of those ids. Nothing here writes, and
nothing scans the keyspace except the optional Celery result backend.

The layouts, checked against the installed libraries:

BullMQ (``bullmq`` 3.x for Python, BullMQ 5 for Node; ``{p}`` is ``{prefix}:{queue}``)
    ``{p}:wait``, ``{p}:active`` lists; ``{p}:paused`` list (only before BullMQ 5, which
    pauses by setting ``paused`` in the ``{p}:meta`` hash and leaves jobs in ``wait``);
    ``{p}:delayed``, ``{p}:prioritized``, ``{p}:waiting-children`` zsets; ``{p}:completed``
    and ``{p}:failed`` zsets scored by ``finishedOn`` (ms); job hashes ``{p}:{id}`` with
    ``timestamp``, ``delay``, ``processedOn``, ``finishedOn`` (ms). New jobs are LPUSHed
    and workers take from the tail, so the oldest job is at the tail (at the head for
    ``lifo`` jobs): both ends are read. A job's wait counts from ``timestamp + delay``, so
    a job retried after a backoff counts from its first attempt.
RQ (3.0; ``{p}`` is the key prefix, ``rq`` unless ``RQ_KEY_PREFIX`` says otherwise)
    ``{p}:queue:{q}`` list of job ids, oldest at the head; ``{p}:wip:{q}`` (``started`` in
    RQ < 2), ``{p}:finished:{q}``, ``{p}:failed:{q}`` zsets scored by the time the entry
    *expires*, not by when the job ended; ``{p}:deferred:{q}``, ``{p}:scheduled:{q}``
    zsets; job hashes ``{p}:job:{id}`` with ``enqueued_at``, ``started_at``, ``ended_at``
    (``2024-05-01T12:00:00.123456Z``). ``{p}:suspended`` pauses every worker of the
    Redis database, so every queue reads as paused.
Celery (kombu's Redis transport; ``{p}`` is kombu's ``global_keyprefix``, empty by default)
    ``{p}{queue}`` list, plus ``{p}{queue}\\x06\\x16{3,6,9}`` for the default priority
    steps; ``{p}unacked`` hash of messages delivered to a worker and not yet acknowledged
    (``reserved``: prefetched or, with ``acks_late``, running). A message carries no time
    it was sent (protocol 2 headers: id, task, eta, expires, retries, ...; properties:
    delivery_tag, priority, ...), so the age of the oldest waiting message cannot be read,
    and the broker has no pause. Finished tasks are only known from a result backend:
    ``celery-task-meta-{id}`` strings with ``status`` and ``date_done``, attributed to a
    queue only when the app sets ``result_extended = True`` (which adds ``queue``). They
    carry no start time, so there is no processing time for Celery.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import redis.asyncio as aioredis

__all__ = [
    "TIME_RANGES_S",
    "Backend",
    "QueueStats",
    "TimeRange",
    "read_bullmq",
    "read_celery",
    "read_rq",
]

Backend = Literal["bullmq", "rq", "celery"]
TimeRange = Literal["1h", "24h", "7d", "30d"]

TIME_RANGES_S: Mapping[TimeRange, float] = {
    "1h": 3_600.0,
    "24h": 86_400.0,
    "7d": 7 * 86_400.0,
    "30d": 30 * 86_400.0,
}

# States a job is in while nobody works on it yet: what "waiting" means for a backlog.
WAITING_STATES = ("waiting", "prioritized", "paused")

# Bounds on the work of one check: the recent jobs averaged for processing time, the jobs
# of an RQ registry looked at for "finished within the range", the unacked Celery messages
# read to count them per queue, and the Celery results read.
PROCESSING_SAMPLE = 100
RQ_REGISTRY_SAMPLE = 200
CELERY_UNACKED_MAX = 1_000
CELERY_RESULTS_MAX = 2_000

_CELERY_SEP = "\x06\x16"
_CELERY_PRIORITY_STEPS = (3, 6, 9)  # kombu's default; step 0 is the bare queue name
_CELERY_META_PREFIX = "celery-task-meta-"


@dataclass(frozen=True, slots=True)
class QueueStats:
    """One queue at ``at`` (epoch seconds), finished jobs counted over ``time_range``.

    ``None`` means the backend cannot tell: Celery has no pause and no enqueue time, and
    without a result backend it knows nothing of finished tasks. ``exists`` is False for a
    queue no job was ever added to (a typo in the monitor, or a queue not yet used).
    """

    queue: str
    backend: Backend
    time_range: TimeRange
    at: float
    counts: Mapping[str, int] = field(default_factory=dict)
    exists: bool | None = None
    paused: bool | None = None
    oldest_waiting_s: float | None = None
    completed_in_range: int | None = None
    failed_in_range: int | None = None
    processing_s_avg: float | None = None

    @property
    def waiting(self) -> int:
        """Return the jobs ready to run that no worker has taken yet."""
        return sum(self.counts.get(state, 0) for state in WAITING_STATES)

    @property
    def failure_ratio(self) -> float | None:
        """Return failed / (completed + failed) within the range; None if nothing finished."""
        if self.completed_in_range is None or self.failed_in_range is None:
            return None
        finished = self.completed_in_range + self.failed_in_range
        return self.failed_in_range / finished if finished else None


@dataclass(frozen=True, slots=True)
class _Window:
    now_s: float
    time_range: TimeRange

    @property
    def since_s(self) -> float:
        return self.now_s - TIME_RANGES_S[self.time_range]


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _float(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _mean(values: Iterable[float]) -> float | None:
    items = list(values)
    return sum(items) / len(items) if items else None


def _age_s(now_s: float, ready_at_s: Iterable[float]) -> float:
    """Return how long the longest-waiting job has waited; 0 when none waits."""
    earliest = min(ready_at_s, default=None)
    return max(0.0, now_s - earliest) if earliest is not None else 0.0


# --- BullMQ -------------------------------------------------------------------------------


def _is_bullmq_marker(job_id: str) -> bool:
    # BullMQ < 5 left a "0:<delay>" marker at the tail of the wait list; job ids never
    # contain a colon.
    return job_id.startswith("0:")


async def read_bullmq(
    client: aioredis.Redis,
    queues: Sequence[str],
    *,
    prefix: str,
    now_s: float,
    time_range: TimeRange,
) -> list[QueueStats]:
    """Return the stats of BullMQ ``queues`` under ``prefix``."""
    window = _Window(now_s, time_range)
    since_ms = window.since_s * 1000.0
    async with client.pipeline(transaction=False) as pipe:
        for queue in queues:
            key = f"{prefix}:{queue}:"
            pipe.llen(key + "wait")
            pipe.llen(key + "active")
            pipe.llen(key + "paused")
            pipe.zcard(key + "delayed")
            pipe.zcard(key + "prioritized")
            pipe.zcard(key + "waiting-children")
            pipe.zcard(key + "completed")
            pipe.zcard(key + "failed")
            pipe.hexists(key + "meta", "paused")
            pipe.exists(key + "meta", key + "id")
            # The ends of the lists and the next prioritized job: where the oldest one is.
            pipe.lrange(key + "wait", -2, -1)
            pipe.lindex(key + "wait", 0)
            pipe.lrange(key + "paused", -2, -1)
            pipe.lindex(key + "paused", 0)
            pipe.zrange(key + "prioritized", 0, 0)
            pipe.zcount(key + "completed", since_ms, "+inf")
            pipe.zcount(key + "failed", since_ms, "+inf")
            pipe.zrevrangebyscore(
                key + "completed", "+inf", since_ms, start=0, num=PROCESSING_SAMPLE
            )
        first = await pipe.execute()
    per_queue = 18
    rows = [first[i * per_queue : (i + 1) * per_queue] for i in range(len(queues))]

    candidates: list[list[str]] = []
    recent: list[list[str]] = []
    async with client.pipeline(transaction=False) as pipe:
        for queue, row in zip(queues, rows, strict=True):
            key = f"{prefix}:{queue}:"
            ids = [*row[10], row[11], *row[12], row[13], *row[14]]
            waiting_ids = list(dict.fromkeys(i for i in ids if i and not _is_bullmq_marker(i)))
            candidates.append(waiting_ids)
            recent.append(list(row[17]))
            for job_id in waiting_ids:
                pipe.hmget(key + job_id, ["timestamp", "delay"])
            for job_id in row[17]:
                pipe.hmget(key + job_id, ["processedOn", "finishedOn"])
        second = iter(await pipe.execute())

    stats = []
    for queue, row, waiting_ids, done_ids in zip(queues, rows, candidates, recent, strict=True):
        ready_at_s = []
        for timestamp, delay in (next(second) for _ in waiting_ids):
            created_ms = _float(timestamp)
            if created_ms is not None:
                ready_at_s.append((created_ms + max(0.0, _float(delay) or 0.0)) / 1000.0)
        durations_s = []
        for processed, finished in (next(second) for _ in done_ids):
            started_ms, ended_ms = _float(processed), _float(finished)
            if started_ms is not None and ended_ms is not None and ended_ms >= started_ms:
                durations_s.append((ended_ms - started_ms) / 1000.0)
        tail = row[10]
        legacy_marker = 1 if tail and _is_bullmq_marker(tail[-1]) else 0
        stats.append(
            QueueStats(
                queue=queue,
                backend="bullmq",
                time_range=time_range,
                at=now_s,
                counts={
                    "waiting": max(0, _int(row[0]) - legacy_marker),
                    "active": _int(row[1]),
                    "paused": _int(row[2]),
                    "delayed": _int(row[3]),
                    "prioritized": _int(row[4]),
                    "waiting_children": _int(row[5]),
                    "completed": _int(row[6]),
                    "failed": _int(row[7]),
                },
                exists=_int(row[9]) > 0,
                paused=bool(row[8]),
                oldest_waiting_s=_age_s(now_s, ready_at_s),
                completed_in_range=_int(row[15]),
                failed_in_range=_int(row[16]),
                processing_s_avg=_mean(durations_s),
            )
        )
    return stats


# --- RQ -----------------------------------------------------------------------------------


def _iso_time_s(value: Any) -> float | None:
    """Return epoch seconds from an ISO time (RQ's ``2024-05-01T12:00:00.123456Z``)."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    if parsed.tzinfo is None:  # RQ writes UTC; older versions without the Z
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def _rq_ready_at_s(jobs: Iterable[Sequence[Any]]) -> list[float]:
    """Return when each of ``jobs`` (enqueued_at, created_at) became ready to run."""
    ready = []
    for enqueued, created in jobs:
        at = _iso_time_s(enqueued)
        if at is None:
            at = _iso_time_s(created)
        if at is not None:
            ready.append(at)
    return ready


def _rq_ended_within(window: _Window, jobs: Iterable[Sequence[Any]]) -> tuple[int, list[float]]:
    """Return how many of ``jobs`` (started_at, ended_at) ended within ``window``, and the
    run times of the first ``PROCESSING_SAMPLE`` of them."""
    count = 0
    durations_s: list[float] = []
    for started, ended in jobs:
        ended_s = _iso_time_s(ended)
        if ended_s is None or ended_s < window.since_s:
            continue
        count += 1
        started_s = _iso_time_s(started)
        if started_s is not None and ended_s >= started_s and len(durations_s) < PROCESSING_SAMPLE:
            durations_s.append(ended_s - started_s)
    return count, durations_s


async def read_rq(
    client: aioredis.Redis,
    queues: Sequence[str],
    *,
    prefix: str,
    now_s: float,
    time_range: TimeRange,
) -> list[QueueStats]:
    """Return the stats of RQ ``queues`` under ``prefix``.

    Registries score entries by expiry, so "finished within the range" is read from the
    ``ended_at`` of the most recent ``RQ_REGISTRY_SAMPLE`` entries of each registry, and
    only jobs RQ still keeps count (finished ones expire after ``result_ttl``, 500 s by
    default). Entries already expired but not yet cleaned up are not counted, as in RQ's
    own ``registry.count``.
    """
    window = _Window(now_s, time_range)
    async with client.pipeline(transaction=False) as pipe:
        pipe.exists(f"{prefix}:suspended")
        for queue in queues:
            pipe.llen(f"{prefix}:queue:{queue}")
            pipe.zcount(f"{prefix}:wip:{queue}", now_s, "+inf")
            pipe.zcount(f"{prefix}:started:{queue}", now_s, "+inf")
            pipe.zcount(f"{prefix}:failed:{queue}", now_s, "+inf")
            pipe.zcount(f"{prefix}:finished:{queue}", now_s, "+inf")
            pipe.zcard(f"{prefix}:deferred:{queue}")
            pipe.zcard(f"{prefix}:scheduled:{queue}")
            pipe.sismember(f"{prefix}:queues", f"{prefix}:queue:{queue}")
            pipe.lindex(f"{prefix}:queue:{queue}", 0)
            pipe.lindex(f"{prefix}:queue:{queue}", -1)
            for registry in ("finished", "failed"):
                pipe.zrevrangebyscore(
                    f"{prefix}:{registry}:{queue}",
                    "+inf",
                    now_s,
                    start=0,
                    num=RQ_REGISTRY_SAMPLE,
                )
        first = await pipe.execute()
    suspended = _int(first[0]) > 0
    per_queue = 12
    rows = [first[1 + i * per_queue : 1 + (i + 1) * per_queue] for i in range(len(queues))]

    heads = [list(dict.fromkeys(i for i in (row[8], row[9]) if i)) for row in rows]
    async with client.pipeline(transaction=False) as pipe:
        for row, head in zip(rows, heads, strict=True):
            for job_id in head:
                pipe.hmget(f"{prefix}:job:{job_id}", ["enqueued_at", "created_at"])
            for job_id in (*row[10], *row[11]):
                pipe.hmget(f"{prefix}:job:{job_id}", ["started_at", "ended_at"])
        second = iter(await pipe.execute())

    stats = []
    for queue, row, head in zip(queues, rows, heads, strict=True):
        ready_at_s = _rq_ready_at_s([next(second) for _ in head])
        completed, durations_s = _rq_ended_within(window, [next(second) for _ in row[10]])
        failed, _ = _rq_ended_within(window, [next(second) for _ in row[11]])
        stats.append(
            QueueStats(
                queue=queue,
                backend="rq",
                time_range=time_range,
                at=now_s,
                counts={
                    "waiting": _int(row[0]),
                    "active": _int(row[1]) + _int(row[2]),
                    "failed": _int(row[3]),
                    "completed": _int(row[4]),
                    "deferred": _int(row[5]),
                    "delayed": _int(row[6]),
                },
                exists=bool(_int(row[7])),
                paused=suspended,
                oldest_waiting_s=_age_s(now_s, ready_at_s),
                completed_in_range=completed,
                failed_in_range=failed,
                processing_s_avg=_mean(durations_s),
            )
        )
    return stats


# --- Celery -------------------------------------------------------------------------------


def _celery_reserved(values: Iterable[str | bytes]) -> dict[str, int]:
    """Count unacked messages per routing key (the queue name under default routing)."""
    counts: dict[str, int] = {}
    for value in values:
        try:
            _, _, routing_key = json.loads(value)
        except (TypeError, ValueError):
            continue
        if isinstance(routing_key, str):
            counts[routing_key] = counts.get(routing_key, 0) + 1
    return counts


@dataclass(slots=True)
class _Finished:
    completed: int = 0
    failed: int = 0
    completed_in_range: int = 0
    failed_in_range: int = 0


async def _celery_results(results: aioredis.Redis, window: _Window) -> dict[str, _Finished]:
    """Tally SUCCESS and FAILURE results per queue, over at most ``CELERY_RESULTS_MAX``."""
    keys: list[str] = []
    async for key in results.scan_iter(match=f"{_CELERY_META_PREFIX}*", count=1_000):
        keys.append(key)
        if len(keys) >= CELERY_RESULTS_MAX:
            break
    tally: dict[str, _Finished] = {}
    for start in range(0, len(keys), 500):
        for raw in await results.mget(keys[start : start + 500]):
            try:
                meta = json.loads(raw) if raw else None
            except ValueError:
                continue
            if not isinstance(meta, dict) or not isinstance(meta.get("queue"), str):
                continue
            status = meta.get("status")
            if status not in {"SUCCESS", "FAILURE"}:
                continue
            done_s = _iso_time_s(meta.get("date_done"))
            counted = tally.setdefault(meta["queue"], _Finished())
            recent = done_s is not None and done_s >= window.since_s
            if status == "SUCCESS":
                counted.completed += 1
                counted.completed_in_range += recent
            else:
                counted.failed += 1
                counted.failed_in_range += recent
    return tally


async def read_celery(
    client: aioredis.Redis,
    queues: Sequence[str],
    *,
    prefix: str,
    now_s: float,
    time_range: TimeRange,
    results: aioredis.Redis | None = None,
) -> list[QueueStats]:
    """Return the stats of Celery ``queues`` on a Redis broker, and its result backend.

    ``results`` (the result backend) adds completed and failed counts; without it, or for
    tasks of an app without ``result_extended``, those stay unknown.
    """
    window = _Window(now_s, time_range)
    async with client.pipeline(transaction=False) as pipe:
        pipe.hlen(f"{prefix}unacked")
        for queue in queues:
            pipe.llen(f"{prefix}{queue}")
            for step in _CELERY_PRIORITY_STEPS:
                pipe.llen(f"{prefix}{queue}{_CELERY_SEP}{step}")
        first = await pipe.execute()
    unacked = _int(first[0])
    reserved: dict[str, int] | None = None
    if unacked <= CELERY_UNACKED_MAX:
        reserved = _celery_reserved(await client.hvals(f"{prefix}unacked")) if unacked else {}
    finished = await _celery_results(results, window) if results else None

    stats = []
    per_queue = 1 + len(_CELERY_PRIORITY_STEPS)
    for index, queue in enumerate(queues):
        row = first[1 + index * per_queue : 1 + (index + 1) * per_queue]
        counts = {"waiting": sum(_int(length) for length in row)}
        if reserved is not None:
            counts["reserved"] = reserved.get(queue, 0)
        done = finished.get(queue, _Finished()) if finished is not None else None
        if done is not None:
            counts["completed"] = done.completed
            counts["failed"] = done.failed
        stats.append(
            QueueStats(
                queue=queue,
                backend="celery",
                time_range=time_range,
                at=now_s,
                counts=counts,
                completed_in_range=done.completed_in_range if done else None,
                failed_in_range=done.failed_in_range if done else None,
            )
        )
    return stats
