"""Wait for a condition by polling it, with a deadline: the test's answer to a bare sleep."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable

__all__ = ["eventually"]


async def eventually(
    check: Callable[[], Awaitable[bool] | bool],
    *,
    timeout_s: float = 5.0,
    interval_s: float = 0.02,
) -> None:
    """Return once ``check()`` is true; raise AssertionError after ``timeout_s`` seconds.

    ``check`` may be a plain or an async callable. Exceptions it raises propagate at once:
    a check that cannot be evaluated is a bug, not a "not yet".
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    attempts = 0
    while True:
        attempts += 1
        outcome = check()
        if inspect.isawaitable(outcome):
            outcome = await outcome
        if outcome:
            return
        if loop.time() >= deadline:
            name = getattr(check, "__qualname__", repr(check))
            raise AssertionError(
                f"condition {name} still false after {timeout_s:g} s ({attempts} checks)"
            )
        await asyncio.sleep(interval_s)
