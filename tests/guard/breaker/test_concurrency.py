"""Concurrent calls through one breaker: never serialised, half-open trials capped exactly.

Overlap is shown with barriers and events (a serialised breaker would break the barrier),
never with durations.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from tradewarden.clock import ManualClock
from tradewarden.guard.breaker import (
    BreakerConfig,
    BreakerState,
    CircuitBreaker,
    CircuitOpenError,
    WindowKind,
)

from .conftest import BoomError

WAIT_S = 10.0


def half_open(clock: ManualClock, permitted: int) -> CircuitBreaker:
    config = BreakerConfig(permitted_calls_in_half_open=permitted, success_threshold=permitted)
    breaker = CircuitBreaker("trials", config, clock=clock)
    breaker.open()
    clock.advance(30)
    return breaker


@pytest.mark.parametrize("state", ["closed", "half_open", "window"])
def test_four_threads_run_their_calls_at_the_same_time(clock: ManualClock, state: str) -> None:
    if state == "window":
        breaker = CircuitBreaker("b", BreakerConfig(window=WindowKind.TIME), clock=clock)
    elif state == "half_open":
        breaker = half_open(clock, permitted=4)
    else:
        breaker = CircuitBreaker("b", clock=clock)
    barrier = threading.Barrier(4, timeout=WAIT_S)

    @breaker
    def slow_call() -> int:
        return barrier.wait()  # every call must be inside at once to get past this

    with ThreadPoolExecutor(4) as pool:
        results = sorted(pool.map(lambda _: slow_call(), range(4)))
    assert results == [0, 1, 2, 3]


async def test_four_tasks_run_their_calls_at_the_same_time(clock: ManualClock) -> None:
    breaker = CircuitBreaker("b", clock=clock)
    barrier = asyncio.Barrier(4)

    @breaker
    async def slow_call() -> int:
        return await barrier.wait()

    results = await asyncio.wait_for(asyncio.gather(*(slow_call() for _ in range(4))), WAIT_S)
    assert sorted(results) == [0, 1, 2, 3]


def test_exactly_the_permitted_trials_of_twenty_threads_are_admitted(clock: ManualClock) -> None:
    breaker = half_open(clock, permitted=3)
    release = threading.Event()
    admitted = threading.Semaphore(0)
    rejected: list[CircuitOpenError] = []
    start = threading.Barrier(20, timeout=WAIT_S)

    def trial() -> None:
        admitted.release()
        assert release.wait(WAIT_S)

    def caller() -> None:
        start.wait()
        try:
            breaker.call(trial)
        except CircuitOpenError as exc:
            rejected.append(exc)
            if len(rejected) == 17:
                release.set()  # every caller that will be rejected has been

    threads = [threading.Thread(target=caller) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT_S)
    assert not any(thread.is_alive() for thread in threads)
    assert len(rejected) == 17
    assert all(exc.state is BreakerState.HALF_OPEN for exc in rejected)
    assert sum(admitted.acquire(blocking=False) for _ in range(20)) == 3
    assert breaker.state is BreakerState.CLOSED


async def test_exactly_the_permitted_trials_of_twenty_tasks_are_admitted(
    clock: ManualClock,
) -> None:
    breaker = half_open(clock, permitted=3)
    release = asyncio.Event()
    inside = 0

    @breaker
    async def trial() -> None:
        nonlocal inside
        inside += 1
        await release.wait()

    tasks = [asyncio.create_task(trial()) for _ in range(20)]
    await asyncio.sleep(0)  # the tasks run their first step first: admitted or rejected
    rejected = [t for t in tasks if t.done() and isinstance(t.exception(), CircuitOpenError)]
    assert (inside, len(rejected)) == (3, 17)
    release.set()
    await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), WAIT_S)
    assert breaker.state is BreakerState.CLOSED


def test_counts_stay_exact_under_threads(clock: ManualClock) -> None:
    breaker = CircuitBreaker("b", BreakerConfig(failure_threshold=10**9), clock=clock)
    calls_per_thread = 5_000

    def work(seed: int) -> None:
        for i in range(calls_per_thread):
            if (i + seed) % 7 == 0:
                with pytest.raises(BoomError):
                    breaker.call(_raise)
            else:
                breaker.call(int)

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(work, range(4)))
    assert breaker.successes_total + breaker.failures_total == 4 * calls_per_thread
    assert breaker.state is BreakerState.CLOSED


def _raise() -> None:
    raise BoomError
