"""`tradewarden up` keeps the collector's full passes off the request path: start-up
objects frozen, the automatic full pass out of reach, a task running it on a period."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator

import pytest

from tradewarden.cli._gc import collect_periodically, defer_full_passes


@pytest.fixture
def restored_gc() -> Iterator[None]:
    threshold = gc.get_threshold()
    gc.unfreeze()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)


def test_start_up_objects_are_frozen_and_the_automatic_full_pass_deferred(
    restored_gc: None,
) -> None:
    young, middle, old = gc.get_threshold()
    assert gc.get_freeze_count() == 0
    defer_full_passes()
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold()[:2] == (young, middle)  # young passes run as before
    assert gc.get_threshold()[2] >= 1_000 * old


async def test_the_full_pass_runs_once_a_period_until_cancelled() -> None:
    passes: list[int] = []
    periods: list[float] = []
    third = asyncio.Event()

    async def sleep(seconds: float) -> None:
        periods.append(seconds)
        if len(periods) > 3:
            third.set()
            await asyncio.Event().wait()  # parked until cancelled

    task = asyncio.create_task(collect_periodically(7.5, collect=passes.append, sleep=sleep))
    await third.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert passes == [2, 2, 2]
    assert periods == [7.5] * 4


async def test_a_cycle_that_reached_the_old_generation_is_freed_by_the_periodic_pass(
    restored_gc: None,
) -> None:
    class Node:
        def __init__(self) -> None:
            self.me = self

    defer_full_passes()
    collected = asyncio.Event()

    async def sleep(_seconds: float) -> None:
        if collected.is_set():
            await asyncio.Event().wait()

    node = Node()
    gc.collect(1)  # into the old generation, where only a full pass looks
    gc.collect(1)
    ref = weakref.ref(node)
    del node
    gc.collect(1)
    assert ref() is not None  # the young passes do not free it

    def collect(generation: int) -> None:
        gc.collect(generation)
        collected.set()

    task = asyncio.create_task(collect_periodically(1.0, collect=collect, sleep=sleep))
    await collected.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert ref() is None
