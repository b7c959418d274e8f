"""A breaker's configuration: frozen, validated when it is built."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

__all__ = ["BreakerConfig", "WindowKind"]


class WindowKind(Enum):
    """How failures are counted while CLOSED."""

    CONSECUTIVE = "consecutive"  # N failures in a row (each within monitoring_period_s)
    COUNT = "count"  # rates over the last ``window_size`` calls
    TIME = "time"  # rates over the calls of the last ``window_size`` seconds


@dataclass(frozen=True, slots=True)
class BreakerConfig:
    """How a breaker counts, opens and recovers.

    Consecutive counting (the default, the seeds' breaker): ``failure_threshold`` failures
    in a row open the breaker; a success resets the count, and so does a gap of more than
    ``monitoring_period_s`` since the previous failure.

    Sliding windows (``window`` COUNT or TIME, resilience4j's semantics): once the window
    holds at least ``minimum_number_of_calls`` calls, the breaker opens when the failure
    rate reaches ``failure_rate_threshold`` percent or the share of calls slower than
    ``slow_call_duration_s`` reaches ``slow_call_rate_threshold`` percent. A TIME window of
    ``window_size`` seconds keeps one bucket per second.

    Recovery, whatever the counting: after ``timeout_s`` OPEN, the breaker lets
    ``permitted_calls_in_half_open`` concurrent trial calls through; ``success_threshold``
    successful trials close it, any failed (or, with a window, slow) trial opens it again.

    Which outcomes are failures: an exception that is an instance of ``ignore_exceptions``
    passes through uncounted; otherwise one of ``record_exceptions`` is a failure if
    ``failure_predicate`` (when given) returns true for it, else it passes uncounted too. A
    returned value is a failure when ``result_predicate`` (when given) returns true for it.
    ``asyncio.CancelledError`` and ``KeyboardInterrupt`` are not ``Exception``\\ s, so by
    default they are never failures.
    """

    failure_threshold: int = 5
    success_threshold: int = 2
    timeout_s: float = 30.0
    monitoring_period_s: float = 60.0
    permitted_calls_in_half_open: int = 1
    window: WindowKind = WindowKind.CONSECUTIVE
    window_size: int = 100
    minimum_number_of_calls: int = 100
    failure_rate_threshold: float = 50.0
    slow_call_duration_s: float = 60.0
    slow_call_rate_threshold: float = 100.0
    record_exceptions: tuple[type[BaseException], ...] = (Exception,)
    ignore_exceptions: tuple[type[BaseException], ...] = ()
    failure_predicate: Callable[[BaseException], bool] | None = None
    result_predicate: Callable[[Any], bool] | None = None

    def __post_init__(self) -> None:
        for name in (
            "failure_threshold",
            "success_threshold",
            "permitted_calls_in_half_open",
            "window_size",
            "minimum_number_of_calls",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer of at least 1, got {value!r}")
        for name in ("timeout_s", "monitoring_period_s", "slow_call_duration_s"):
            _check_positive(name, getattr(self, name))
        for name in ("failure_rate_threshold", "slow_call_rate_threshold"):
            value = getattr(self, name)
            if not 0 < _check_number(name, value) <= 100:
                raise ValueError(f"{name} is a percentage in (0, 100], got {value!r}")
        if not isinstance(self.window, WindowKind):
            # Every invalid setting is a ValueError naming its field, whatever was wrong.
            raise ValueError(f"window must be a WindowKind, got {self.window!r}")  # noqa: TRY004
        for name in ("record_exceptions", "ignore_exceptions"):
            value = getattr(self, name)
            if not isinstance(value, tuple) or not all(
                isinstance(t, type) and issubclass(t, BaseException) for t in value
            ):
                raise ValueError(f"{name} must be a tuple of exception classes, got {value!r}")
        for name in ("failure_predicate", "result_predicate"):
            value = getattr(self, name)
            if value is not None and not callable(value):
                raise ValueError(f"{name} must be callable or None, got {value!r}")


def _check_number(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise ValueError(f"{name} must be a number, got {value!r}")
    return float(value)


def _check_positive(name: str, value: object) -> None:
    if not 0 < _check_number(name, value) < math.inf:
        raise ValueError(f"{name} must be a positive, finite number of seconds, got {value!r}")
