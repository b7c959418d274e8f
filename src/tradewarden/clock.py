"""The Clock port: every decision reads time once, from an injected clock."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol

__all__ = ["Clock", "ManualClock", "SystemClock", "utc_datetime"]


class Clock(Protocol):
    """Tell the time: wall-clock seconds since the epoch and a monotonic reading."""

    def now(self) -> float:
        """Return wall-clock time in seconds since the Unix epoch."""
        ...

    def monotonic(self) -> float:
        """Return a monotonic reading in seconds, for measuring durations."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> float:
        """Return wall-clock time in seconds since the Unix epoch."""
        return time.time()

    def monotonic(self) -> float:
        """Return a monotonic reading in seconds."""
        return time.monotonic()


class ManualClock:
    """A clock that moves only when told to: for tests and simulations."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start
        self._mono = 0.0

    def now(self) -> float:
        """Return the current manual wall-clock time."""
        return self._now

    def monotonic(self) -> float:
        """Return the current manual monotonic time."""
        return self._mono

    def advance(self, seconds: float) -> None:
        """Move both readings forward by ``seconds``."""
        if seconds < 0:
            raise ValueError("a clock does not go backwards")
        self._now += seconds
        self._mono += seconds


def utc_datetime(epoch_s: float) -> datetime:
    """Return an aware UTC datetime for an epoch reading."""
    return datetime.fromtimestamp(epoch_s, tz=UTC)
