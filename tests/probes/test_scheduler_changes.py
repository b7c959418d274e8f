"""The scheduler announces changes to its set of monitors (what the generated rules are
made from): once per apply, on a changed put and on a removal, never for no change."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from prometheus_client import CollectorRegistry

from probes._fakes import FakeSpec, MemoryFlips
from tradewarden.clock import SystemClock
from tradewarden.probes import ProbeMetrics, Scheduler


@pytest.fixture
async def scheduler() -> AsyncIterator[Scheduler]:
    async with httpx.AsyncClient() as http:
        sink = ProbeMetrics(CollectorRegistry())
        scheduler = Scheduler(clock=SystemClock(), flips=MemoryFlips(), sink=sink, http=http)
        yield scheduler
        await scheduler.stop()


def _spec(name: str, interval_s: float = 30.0) -> FakeSpec:
    return FakeSpec(name=name, interval_s=interval_s, timeout_s=1.0)


async def test_changes_to_the_monitors_are_announced_once_each(scheduler: Scheduler) -> None:
    seen: list[list[str]] = []
    scheduler.on_change(lambda: seen.append([s.spec.name for s in scheduler.all()]))

    scheduler.apply([_spec("a"), _spec("b")])
    assert seen == [["a", "b"]]  # one announcement for the whole apply, after it
    scheduler.apply([_spec("a"), _spec("b")])
    assert not scheduler.put(_spec("a"))
    assert not scheduler.remove("nope")
    assert len(seen) == 1  # nothing changed: nothing said

    assert scheduler.put(_spec("c"))
    assert scheduler.put(_spec("a", interval_s=10.0))
    assert scheduler.remove("b")
    scheduler.apply([_spec("c")])
    assert seen[1:] == [["a", "b", "c"], ["a", "b", "c"], ["a", "c"], ["c"]]


async def test_a_failing_listener_does_not_undo_the_change(
    scheduler: Scheduler, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> None:
        raise RuntimeError("listener bug")

    heard: list[int] = []
    scheduler.on_change(broken)
    scheduler.on_change(lambda: heard.append(1))
    assert scheduler.put(_spec("a"))
    assert scheduler.get("a") is not None
    assert heard == [1]
    assert "a monitor change listener failed" in caplog.text
