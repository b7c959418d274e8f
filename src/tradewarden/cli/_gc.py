"""The garbage collector's full passes, kept off the request path of ``tradewarden up``.

CPython starts a full pass when allocations have run through the younger generations often
enough and the old one grew by a quarter. Allocations happen while requests are handled,
so a full pass always lands inside one: with 10,000 live alerts a pass walks ~40,000
objects, 20-45 ms on a 2-vCPU guest, and it was the p99 of alert ingest. Start-up objects
(modules, schemas, routes: ~270,000) are frozen out of the passes; the automatic full
pass is moved out of reach and a task runs it on a fixed period instead, between
requests rather than inside one. Young passes run as before, so short-lived cycles are
collected at once; cyclic garbage that reached the old generation waits at most one
period.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Awaitable, Callable

__all__ = ["FULL_PASS_INTERVAL_S", "collect_periodically", "defer_full_passes"]

FULL_PASS_INTERVAL_S = 30.0
# The automatic full pass starts after this many passes of the middle generation (each
# after ~7,000 net allocations): ~70 million allocations, far beyond one period's.
_DEFERRED_THRESHOLD = 10_000


def defer_full_passes() -> None:
    """Freeze what start-up built and leave the full pass to :func:`collect_periodically`."""
    gc.collect()
    gc.freeze()
    young, middle, _old = gc.get_threshold()
    gc.set_threshold(young, middle, _DEFERRED_THRESHOLD)


async def collect_periodically(
    interval_s: float = FULL_PASS_INTERVAL_S,
    *,
    collect: Callable[[int], object] = gc.collect,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> None:
    """Run a full pass every ``interval_s`` until cancelled."""
    while True:
        await sleep(interval_s)
        collect(2)
