"""System: the host the warden runs on, and the warden's own event loop.

CPU, memory and disk come from psutil, read in a worker thread: they read ``/proc`` and
``statvfs``, which can stall on a busy host or a hung network mount, and the event loop
must not stall with them. Event-loop lag is how late a task that yields is resumed: the
time other callbacks held the loop.

CPU use is the busy share of the CPU time that passed since this probe's previous check
(since ``build()`` for the first one). psutil's own ``cpu_percent(interval=None)`` keeps
that state per calling thread, and a worker-thread pool has no stable thread, so the probe
keeps the previous reading itself.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Self

# psutil ships no type hints, and types-psutil is not a dependency: every value read from
# it is converted to a typed one at this module's edge.
import psutil  # type: ignore[import-untyped]
from pydantic import Field, field_validator, model_validator

from tradewarden.probes._model import Probe, ProbeContext, ProbeResult, Sample
from tradewarden.probes._spec import MonitorSpec

__all__ = ["SystemSpec"]


class SystemSpec(MonitorSpec):
    """Check the host's CPU, memory and disk, and the warden's event-loop lag."""

    kind: Literal["system"] = "system"
    cpu_pct_warn: float = Field(default=90.0, gt=0, le=100)
    memory_pct_warn: float = Field(default=90.0, gt=0, le=100)
    disk_path: Path = Path("/")
    disk_pct_warn: float = Field(default=90.0, gt=0, le=100)
    disk_pct_fail: float = Field(default=98.0, gt=0, le=100)
    loop_lag_warn_ms: float = Field(default=100.0, gt=0)

    @field_validator("disk_path")
    @classmethod
    def _disk_path_is_absolute(cls, value: Path) -> Path:
        # Relative to what? The working directory of a service is nobody's intent.
        if not value.is_absolute():
            raise ValueError("must be an absolute path")
        return value

    @model_validator(mode="after")
    def _warn_before_fail(self) -> Self:
        if self.disk_pct_warn > self.disk_pct_fail:
            raise ValueError(
                f"disk_pct_warn ({self.disk_pct_warn:g}) must not exceed "
                f"disk_pct_fail ({self.disk_pct_fail:g})"
            )
        return self

    def build(self) -> Probe:
        return _SystemProbe(self)


def _busy_percent(before: Any, after: Any) -> float:
    """Return the busy share (0-100) of the CPU time between two ``cpu_times()`` readings.

    As psutil computes it: on Linux, guest time is already inside user and nice, and iowait
    is idle time; a counter that went backwards counts as zero.
    """
    deltas = {
        name: max(0.0, float(getattr(after, name)) - float(getattr(before, name)))
        for name in after._fields
    }
    total = sum(deltas.values()) - deltas.get("guest", 0.0) - deltas.get("guest_nice", 0.0)
    idle = deltas.get("idle", 0.0) + deltas.get("iowait", 0.0)
    if total <= 0:
        return 0.0
    return min(100.0, max(0.0, 100.0 * (total - idle) / total))


@dataclass(frozen=True, slots=True)
class _Reading:
    cpu_times: Any
    memory_pct: float
    disk_pct: float
    open_fds: int | None


def _read(disk_path: Path, process: Any) -> _Reading:
    """Take every blocking reading; run in a worker thread."""
    open_fds: int | None = None
    if hasattr(process, "num_fds"):  # POSIX only
        try:
            open_fds = int(process.num_fds())
        except psutil.Error:
            open_fds = None
    return _Reading(
        cpu_times=psutil.cpu_times(),
        memory_pct=float(psutil.virtual_memory().percent),
        disk_pct=float(psutil.disk_usage(os.fspath(disk_path)).percent),
        open_fds=open_fds,
    )


class _SystemProbe:
    def __init__(self, spec: SystemSpec) -> None:
        self._spec = spec
        self._process = psutil.Process()
        # The baseline for the first check's CPU share.
        self._cpu_times: Any = psutil.cpu_times()

    async def run(self, ctx: ProbeContext) -> ProbeResult:
        started = time.perf_counter()
        lag_s = await _loop_lag_s()
        spec = self._spec
        try:
            reading = await asyncio.to_thread(_read, spec.disk_path, self._process)
        except OSError as exc:
            return ProbeResult.failure(
                f"disk_path {spec.disk_path}: {exc.strerror or exc}", time.perf_counter() - started
            )
        except Exception as exc:  # noqa: BLE001 - a failed reading is a DOWN result with its reason
            return ProbeResult.failure(
                f"system reading failed: {type(exc).__name__}: {exc}",
                time.perf_counter() - started,
            )
        cpu_pct = _busy_percent(self._cpu_times, reading.cpu_times)
        self._cpu_times = reading.cpu_times

        samples = [
            Sample("system_cpu_percent", cpu_pct, help="CPU busy since the previous check."),
            Sample("system_memory_used_percent", reading.memory_pct, help="Memory in use."),
            Sample(
                "system_disk_used_percent",
                reading.disk_pct,
                labels={"path": str(spec.disk_path)},
                help="Disk space in use on the file system holding path.",
            ),
            Sample(
                "system_event_loop_lag_seconds",
                lag_s,
                help="How late the warden's event loop resumed a task that yielded.",
            ),
        ]
        if reading.open_fds is not None:
            samples.append(
                Sample(
                    "system_process_open_fds",
                    reading.open_fds,
                    help="File descriptors the warden has open.",
                )
            )
        duration_s = time.perf_counter() - started

        if reading.disk_pct > spec.disk_pct_fail:
            return ProbeResult.failure(
                f"disk {spec.disk_path} is {reading.disk_pct:.1f}% full "
                f"(fails above {spec.disk_pct_fail:g}%)",
                duration_s,
                *samples,
            )
        warnings = []
        if cpu_pct > spec.cpu_pct_warn:
            warnings.append(f"CPU {cpu_pct:.0f}% busy (above {spec.cpu_pct_warn:g}%)")
        if reading.memory_pct > spec.memory_pct_warn:
            warnings.append(
                f"memory {reading.memory_pct:.0f}% used (above {spec.memory_pct_warn:g}%)"
            )
        if reading.disk_pct > spec.disk_pct_warn:
            warnings.append(
                f"disk {spec.disk_path} is {reading.disk_pct:.1f}% full "
                f"(above {spec.disk_pct_warn:g}%)"
            )
        if lag_s * 1000 > spec.loop_lag_warn_ms:
            warnings.append(
                f"event loop {lag_s * 1000:.0f} ms late (above {spec.loop_lag_warn_ms:g} ms)"
            )
        return ProbeResult(
            success=True,
            duration_s=duration_s,
            error="; ".join(warnings) if warnings else None,
            degraded=bool(warnings),
            samples=tuple(samples),
        )


async def _loop_lag_s() -> float:
    """Return how long the loop took to resume this task after it yielded."""
    yielded = time.perf_counter()
    await asyncio.sleep(0)
    return max(0.0, time.perf_counter() - yielded)
