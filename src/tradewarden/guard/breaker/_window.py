"""Sliding windows of call outcomes, and the rule that opens a breaker from them.

Pure bookkeeping: the breaker calls these under its lock with the time it read once.
"""

from __future__ import annotations

import math

from ._config import BreakerConfig, WindowKind

__all__ = ["CountWindow", "SlidingWindow", "TimeWindow", "new_window"]


class SlidingWindow:
    """Totals over a window; subclasses decide which calls are still in it."""

    __slots__ = ("_failure_rate", "_min_calls", "_slow_rate", "calls", "failures", "slow")

    def __init__(self, config: BreakerConfig, min_calls: int) -> None:
        self._min_calls = min_calls
        self._failure_rate = config.failure_rate_threshold
        self._slow_rate = config.slow_call_rate_threshold
        self.calls = 0
        self.failures = 0
        self.slow = 0

    def record(self, now: float, failed: bool, slow: bool) -> bool:
        """Add one call's outcome at monotonic time ``now``; return ``exceeded()``."""
        raise NotImplementedError

    def clear(self) -> None:
        """Forget every call."""
        raise NotImplementedError

    def exceeded(self) -> bool:
        """Return whether the failure or slow-call rate has reached its threshold."""
        if self.calls < self._min_calls:
            return False
        return (
            self.failures * 100 >= self._failure_rate * self.calls
            or self.slow * 100 >= self._slow_rate * self.calls
        )


class CountWindow(SlidingWindow):
    """The last ``window_size`` calls (a ring of outcome codes: bit 0 failed, bit 1 slow)."""

    __slots__ = ("_next", "_ring", "_size")

    def __init__(self, config: BreakerConfig) -> None:
        # resilience4j: with fewer slots than the minimum, a full window is enough.
        super().__init__(config, min(config.minimum_number_of_calls, config.window_size))
        self._size = config.window_size
        self._ring = bytearray(self._size)
        self._next = 0

    def record(self, now: float, failed: bool, slow: bool) -> bool:
        """Add one call's outcome, pushing out the oldest once the ring is full."""
        i = self._next
        code = failed | slow << 1
        ring = self._ring
        if self.calls == self._size:
            old = ring[i]
            if old != code:
                self.failures += failed - (old & 1)
                self.slow += slow - (old >> 1)
        else:
            self.calls += 1
            self.failures += failed
            self.slow += slow
        ring[i] = code
        self._next = i + 1 if i + 1 < self._size else 0
        if not (self.failures or self.slow):
            return False
        return self.exceeded()

    def clear(self) -> None:
        """Forget every call."""
        self._ring = bytearray(self._size)
        self._next = 0
        self.calls = self.failures = self.slow = 0


class TimeWindow(SlidingWindow):
    """The calls of the last ``window_size`` seconds, in one-second buckets."""

    __slots__ = ("_calls", "_failed", "_head", "_size", "_slow")

    def __init__(self, config: BreakerConfig) -> None:
        super().__init__(config, config.minimum_number_of_calls)
        self._size = config.window_size
        self._head: int | None = None  # the newest second held
        self._calls = [0] * self._size
        self._failed = [0] * self._size
        self._slow = [0] * self._size

    def record(self, now: float, failed: bool, slow: bool) -> bool:
        """Add one call's outcome to the bucket of its second; return ``exceeded()``."""
        second = math.floor(now)
        head = self._head
        if head is None or second > head:
            self._advance(second)
        elif second < head:
            second = head  # its time was read before a later call's took the lock
        i = second % self._size
        self._calls[i] += 1
        self._failed[i] += failed
        self._slow[i] += slow
        self.calls += 1
        self.failures += failed
        self.slow += slow
        return self.exceeded()

    def _advance(self, second: int) -> None:
        # Empty the buckets of the seconds between the newest held and ``second``.
        head = self._head
        first = second - self._size + 1 if head is None else max(head + 1, second - self._size + 1)
        for s in range(first, second + 1):
            i = s % self._size
            self.calls -= self._calls[i]
            self.failures -= self._failed[i]
            self.slow -= self._slow[i]
            self._calls[i] = self._failed[i] = self._slow[i] = 0
        self._head = second

    def clear(self) -> None:
        """Forget every call."""
        self._head = None
        self._calls = [0] * self._size
        self._failed = [0] * self._size
        self._slow = [0] * self._size
        self.calls = self.failures = self.slow = 0


def new_window(config: BreakerConfig) -> SlidingWindow | None:
    """Return the window ``config`` asks for, or None for consecutive counting."""
    if config.window is WindowKind.COUNT:
        return CountWindow(config)
    if config.window is WindowKind.TIME:
        return TimeWindow(config)
    return None
