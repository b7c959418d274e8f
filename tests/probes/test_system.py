"""The system kind on this host: readings in range, thresholds applied and validated."""

from __future__ import annotations

import asyncio
import time
from collections import namedtuple
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from tradewarden.clock import ManualClock
from tradewarden.probes._model import ProbeContext, ProbeResult
from tradewarden.probes.kinds.system import SystemSpec, _busy_percent

CpuTimes = namedtuple("CpuTimes", "user nice system idle iowait guest guest_nice")

# Thresholds this host cannot cross, for tests about something else.
NEVER = {"cpu_pct_warn": 100, "memory_pct_warn": 100, "disk_pct_warn": 100, "disk_pct_fail": 100}


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def make_ctx(http: httpx.AsyncClient) -> ProbeContext:
    return ProbeContext(clock=ManualClock(), timeout_s=5.0, http=http)


def spec(**fields: Any) -> SystemSpec:
    return SystemSpec(name="host", **fields)


def values(result: ProbeResult) -> dict[str, float]:
    return {sample.name: sample.value for sample in result.samples}


async def test_readings_are_in_range(http: httpx.AsyncClient, tmp_path: Path) -> None:
    probe = spec(disk_path=tmp_path, loop_lag_warn_ms=60_000, **NEVER).build()

    first = await probe.run(make_ctx(http))
    second = await probe.run(make_ctx(http))

    for result in (first, second):
        assert result.success, result.error
        assert not result.degraded
        got = values(result)
        for name in ("system_cpu_percent", "system_memory_used_percent"):
            assert 0 <= got[name] <= 100
        assert 0 < got["system_disk_used_percent"] <= 100
        assert got["system_event_loop_lag_seconds"] >= 0
        assert got["system_process_open_fds"] > 0
    disk = next(s for s in first.samples if s.name == "system_disk_used_percent")
    assert disk.labels == {"path": str(tmp_path)}


async def test_disk_above_the_failure_threshold_fails(
    http: httpx.AsyncClient, tmp_path: Path
) -> None:
    probe = spec(disk_path=tmp_path, disk_pct_warn=0.0001, disk_pct_fail=0.0001).build()

    result = await probe.run(make_ctx(http))

    assert not result.success
    assert f"disk {tmp_path} is" in (result.error or "")
    assert "(fails above 0.0001%)" in (result.error or "")
    assert values(result)["system_disk_used_percent"] > 0.0001  # samples kept on failure


async def test_disk_above_the_warning_threshold_degrades(
    http: httpx.AsyncClient, tmp_path: Path
) -> None:
    fields = {**NEVER, "disk_pct_warn": 0.0001}
    result = (
        await spec(disk_path=tmp_path, loop_lag_warn_ms=60_000, **fields)
        .build()
        .run(make_ctx(http))
    )

    assert result.success
    assert result.degraded
    assert "(above 0.0001%)" in (result.error or "")


async def test_memory_above_the_warning_threshold_degrades(http: httpx.AsyncClient) -> None:
    fields = {**NEVER, "memory_pct_warn": 0.0001}
    result = await spec(loop_lag_warn_ms=60_000, **fields).build().run(make_ctx(http))

    assert result.success
    assert result.degraded
    assert "memory" in (result.error or "")


async def test_a_blocked_event_loop_degrades(http: httpx.AsyncClient) -> None:
    probe = spec(loop_lag_warn_ms=1, **NEVER).build()
    # Runs before the probe's task is resumed from its yield: 20 ms of loop held.
    asyncio.get_running_loop().call_soon(time.sleep, 0.02)

    result = await probe.run(make_ctx(http))

    assert result.success
    assert result.degraded
    assert "event loop" in (result.error or "")
    assert values(result)["system_event_loop_lag_seconds"] >= 0.02


async def test_missing_disk_path_fails(http: httpx.AsyncClient, tmp_path: Path) -> None:
    missing = tmp_path / "absent"
    result = await spec(disk_path=missing).build().run(make_ctx(http))

    assert not result.success
    assert result.error == f"disk_path {missing}: No such file or directory"


def test_busy_share_is_computed_from_the_difference() -> None:
    before = CpuTimes(100, 0, 50, 800, 50, 0, 0)
    after = CpuTimes(130, 0, 70, 840, 60, 0, 0)  # 50 busy of 100

    assert _busy_percent(before, after) == pytest.approx(50.0)


def test_guest_time_is_not_counted_twice() -> None:
    before = CpuTimes(0, 0, 0, 0, 0, 0, 0)
    after = CpuTimes(60, 0, 0, 40, 0, 20, 0)  # guest is inside user: 60 busy of 100

    assert _busy_percent(before, after) == pytest.approx(60.0)


def test_no_time_passed_or_counters_going_back_reads_zero() -> None:
    same = CpuTimes(1, 2, 3, 4, 5, 0, 0)
    assert _busy_percent(same, same) == 0.0
    assert _busy_percent(CpuTimes(10, 0, 0, 10, 0, 0, 0), CpuTimes(5, 0, 0, 5, 0, 0, 0)) == 0.0


def test_warning_above_failure_is_rejected() -> None:
    with pytest.raises(ValidationError, match=r"disk_pct_warn \(99\) must not exceed"):
        spec(disk_pct_warn=99, disk_pct_fail=95)


@pytest.mark.parametrize(
    "field",
    ["cpu_pct_warn", "memory_pct_warn", "disk_pct_warn", "disk_pct_fail"],
)
@pytest.mark.parametrize("value", [0, -5, 100.1])
def test_percentages_out_of_range_are_rejected(field: str, value: float) -> None:
    with pytest.raises(ValidationError, match=field):
        spec(**{field: value})


def test_loop_lag_threshold_must_be_positive() -> None:
    with pytest.raises(ValidationError, match="loop_lag_warn_ms"):
        spec(loop_lag_warn_ms=0)


def test_relative_disk_path_is_rejected() -> None:
    with pytest.raises(ValidationError, match="must be an absolute path"):
        spec(disk_path=Path("data"))


def test_defaults() -> None:
    monitor = spec()
    assert monitor.kind == "system"
    assert monitor.disk_path == Path("/")
    assert (monitor.disk_pct_warn, monitor.disk_pct_fail) == (90, 98)
