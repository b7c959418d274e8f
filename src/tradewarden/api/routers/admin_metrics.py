"""Admin metrics the seeds name: ``/v1/admin/metrics/system`` (the warden's vital signs, with
each queue monitor's queues and workers), ``/v1/admin/metrics/rpc`` (per RPC provider:
health, latency, success rate, slot lag) and ``/v1/admin/metrics/queues``."""

from __future__ import annotations

import asyncio
import os
import statistics
from typing import Annotated, Any, Literal

import psutil  # type: ignore[import-untyped]
from fastapi import APIRouter, Query

from tradewarden._version import __version__
from tradewarden.api._deps import Admin, RuntimeDep
from tradewarden.clock import utc_datetime
from tradewarden.probes.kinds import QueueSpec
from tradewarden.probes.kinds._queue_backends import QueueStats
from tradewarden.probes.kinds._queue_worker_stats import QueueWorker, queue_workers
from tradewarden.probes.kinds.queue import QueueReadError, queue_stats
from tradewarden.runtime import Runtime

router = APIRouter(prefix="/v1/admin/metrics", tags=["admin"])

# The vital signs answer even when a broker does not: each queue monitor is read within
# this (or its own timeout_s when shorter), plus Celery's fixed wait for worker replies.
SYSTEM_QUEUE_READ_S = 3.0


def _process() -> dict[str, Any]:
    process = psutil.Process(os.getpid())
    with process.oneshot():
        memory = process.memory_info()
        return {
            "pid": process.pid,
            "memory_rss_bytes": memory.rss,
            "cpu_percent": process.cpu_percent(interval=0.1),
            "threads": process.num_threads(),
            "open_fds": process.num_fds(),
        }


async def _redis(runtime: Runtime) -> dict[str, Any]:
    if runtime.redis is None:
        return {"status": "not_configured"}
    pool = runtime.redis.stats().as_dict()
    try:
        latency = await runtime.redis.ping()
        info = await runtime.redis.client.info()
    except Exception as exc:  # noqa: BLE001 - a down Redis is a reading, not an error here
        return {"status": "down", "error": str(exc), "pool": pool}
    return {
        "status": "up",
        "latency_ms": round(latency, 3),
        "used_memory_bytes": info.get("used_memory"),
        "maxmemory_bytes": info.get("maxmemory"),
        "connected_clients": info.get("connected_clients"),
        "role": info.get("role"),
        "pool": pool,
    }


def _scheduler(runtime: Runtime) -> dict[str, Any]:
    scheduler = runtime.scheduler
    if scheduler is None:
        return {"running": False}
    statuses = scheduler.all()
    by_state: dict[str, int] = {}
    for status in statuses:
        by_state[status.state] = by_state.get(status.state, 0) + 1
    delays = sorted(scheduler.schedule_delays)
    p99 = delays[min(len(delays) - 1, int(len(delays) * 0.99))] if delays else None
    return {
        "running": True,
        "monitors": len(statuses),
        "by_state": by_state,
        "checks_in_flight": sum(1 for status in statuses if status.running),
        "schedule_delay_median_s": statistics.median(delays) if delays else None,
        "schedule_delay_p99_s": p99,
    }


def _queue_specs(runtime: Runtime) -> list[QueueSpec]:
    scheduler = runtime.scheduler
    return [
        status.spec
        for status in (scheduler.all() if scheduler is not None else [])
        if isinstance(status.spec, QueueSpec)
    ]


async def _queue_monitor(spec: QueueSpec, now_s: float) -> dict[str, Any]:
    """Return one queue monitor's queues and workers; a failure is that part's error."""
    timeout_s = min(spec.timeout_s, SYSTEM_QUEUE_READ_S)
    stats, workers = await asyncio.gather(
        queue_stats(spec, now_s=now_s, timeout_s=timeout_s),
        queue_workers(spec, timeout_s=timeout_s),
        return_exceptions=True,
    )
    entry: dict[str, Any] = {"monitor": spec.name, "backend": spec.backend}
    if isinstance(stats, BaseException):
        if not isinstance(stats, QueueReadError):
            raise stats
        entry.update(error=str(stats), queues=[])
    else:
        entry.update(error=None, queues=[_queue(item) for item in stats])
    if isinstance(workers, BaseException):
        if not isinstance(workers, QueueReadError):
            raise workers
        entry.update(workers_error=str(workers), workers=[])
    else:
        entry.update(workers_error=None, workers=[_worker(worker) for worker in workers])
    return entry


def _worker(worker: QueueWorker) -> dict[str, Any]:
    heartbeat = worker.last_heartbeat_s
    return {
        "name": worker.name,
        "queues": list(worker.queues),
        "state": worker.state,
        "current_jobs": list(worker.current_jobs),
        "successful": worker.successful,
        "failed": worker.failed,
        "processed": worker.processed,
        "last_heartbeat": (
            utc_datetime(heartbeat).isoformat(timespec="seconds") if heartbeat else None
        ),
        "details": dict(worker.details),
    }


@router.get("/system", summary="The warden's vital signs")
async def system(runtime: RuntimeDep, _admin: Admin) -> dict[str, Any]:
    """Return uptime, memory, CPU, database and Redis health, monitors and scheduler, and per
    queue monitor its queues and the workers its broker knows (an error per monitor)."""
    now = runtime.clock.now()
    report, process, redis, queue_monitors = await asyncio.gather(
        runtime.readiness.report(),
        asyncio.to_thread(_process),
        _redis(runtime),
        asyncio.gather(*(_queue_monitor(spec, now) for spec in _queue_specs(runtime))),
    )
    database = next(check for check in report.checks if check.name == "database")
    return {
        "warden": {
            "version": __version__,
            "uptime_s": round(runtime.clock.now() - runtime.started_at, 3),
            **process,
        },
        "database": database.as_dict(),
        "redis": redis,
        "monitors": _scheduler(runtime),
        "queues": {"monitors": list(queue_monitors)},
    }


@router.get("/rpc", summary="RPC providers of every solana_rpc monitor")
async def rpc(runtime: RuntimeDep, _admin: Admin) -> dict[str, Any]:
    """Return, per provider, health, latency by method, success ratio, slot and slot lag,
    and when it was last checked, from each ``solana_rpc`` monitor's latest check."""
    scheduler = runtime.scheduler
    monitors: list[dict[str, Any]] = []
    for status in scheduler.all() if scheduler is not None else []:
        if status.spec.kind != "solana_rpc":
            continue
        providers: dict[str, dict[str, Any]] = {}
        result = status.last_result
        for sample in result.samples if result is not None else ():
            provider = sample.labels.get("provider")
            if provider is None:
                continue
            entry = providers.setdefault(provider, {"provider": provider, "latency_s": {}})
            field = _RPC_FIELDS.get(sample.name)
            if sample.name == "solana_rpc_latency_seconds":
                entry["latency_s"][sample.labels.get("method", "?")] = sample.value
            elif field == "healthy":
                entry["healthy"] = sample.value == 1.0
            elif field is not None:
                entry[field] = sample.value
        last = status.history[-1] if status.history else None
        monitors.append(
            {
                "monitor": status.spec.name,
                "state": status.state,
                "last_checked_at": (
                    utc_datetime(last.at).isoformat(timespec="seconds") if last else None
                ),
                "error": result.error if result is not None else None,
                "providers": sorted(providers.values(), key=lambda item: str(item["provider"])),
            }
        )
    return {"monitors": monitors}


_RPC_FIELDS = {
    "solana_rpc_up": "healthy",
    "solana_rpc_success_ratio": "success_ratio",
    "solana_rpc_slot": "slot",
    "solana_rpc_slot_lag": "slot_lag",
}


@router.get("/queues", summary="Job queues of every queue monitor")
async def queues(
    runtime: RuntimeDep,
    _admin: Admin,
    time_range: Annotated[
        Literal["1h", "24h", "7d", "30d"],
        Query(alias="timeRange", description="1h, 24h, 7d or 30d"),
    ] = "24h",
) -> dict[str, Any]:
    """Return, per queue: counts per state, paused, oldest waiting job, failure rate and
    average processing time over ``timeRange``, read now from each ``queue`` monitor's broker."""
    specs = _queue_specs(runtime)
    now = runtime.clock.now()

    async def _read(spec: QueueSpec) -> dict[str, Any]:
        try:
            stats = await queue_stats(spec, now_s=now, time_range=time_range)
        except QueueReadError as exc:
            return {"monitor": spec.name, "backend": spec.backend, "error": str(exc), "queues": []}
        return {
            "monitor": spec.name,
            "backend": spec.backend,
            "error": None,
            "queues": [_queue(item) for item in stats],
        }

    return {"timeRange": time_range, "monitors": list(await asyncio.gather(*map(_read, specs)))}


def _queue(stats: QueueStats) -> dict[str, Any]:
    return {
        "queue": stats.queue,
        "counts": dict(stats.counts),
        "waiting": stats.waiting,
        "paused": stats.paused,
        "oldest_waiting_s": stats.oldest_waiting_s,
        "completed": stats.completed_in_range,
        "failed": stats.failed_in_range,
        "failure_rate": stats.failure_ratio,
        "avg_processing_s": stats.processing_s_avg,
    }
