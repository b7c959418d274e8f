"""The windows' running totals against a plain recount of the calls they should hold."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from tradewarden.guard.breaker import BreakerConfig, WindowKind
from tradewarden.guard.breaker._window import CountWindow, TimeWindow

outcomes = st.lists(st.tuples(st.booleans(), st.booleans()), max_size=200)


@given(size=st.integers(1, 12), minimum=st.integers(1, 15), calls=outcomes)
def test_count_window_holds_exactly_the_last_size_calls(
    size: int, minimum: int, calls: list[tuple[bool, bool]]
) -> None:
    config = BreakerConfig(
        window=WindowKind.COUNT,
        window_size=size,
        minimum_number_of_calls=minimum,
        failure_rate_threshold=50,
        slow_call_rate_threshold=75,
    )
    window = CountWindow(config)
    for n, (failed, slow) in enumerate(calls, 1):
        exceeded = window.record(0.0, failed, slow)
        held = calls[max(0, n - size) : n]
        total = len(held)
        failures = sum(f for f, _ in held)
        slows = sum(s for _, s in held)
        assert (window.calls, window.failures, window.slow) == (total, failures, slows)
        expected = total >= min(minimum, size) and (
            failures * 100 >= 50 * total or slows * 100 >= 75 * total
        )
        assert exceeded == expected == window.exceeded()


@given(
    size=st.integers(1, 10),
    steps=st.lists(
        st.tuples(st.floats(0, 4, allow_nan=False), st.booleans(), st.booleans()), max_size=120
    ),
)
def test_time_window_holds_the_calls_of_its_last_seconds(
    size: int, steps: list[tuple[float, bool, bool]]
) -> None:
    config = BreakerConfig(window=WindowKind.TIME, window_size=size, minimum_number_of_calls=1)
    window = TimeWindow(config)
    now = 1000.0
    seen: list[tuple[float, bool, bool]] = []
    for gap, failed, slow in steps:
        now += gap
        window.record(now, failed, slow)
        seen.append((now, failed, slow))
        oldest = math.floor(now) - size  # buckets of whole seconds, the current one partial
        held = [(f, s) for t, f, s in seen if math.floor(t) > oldest]
        assert window.calls == len(held)
        assert window.failures == sum(f for f, _ in held)
        assert window.slow == sum(s for _, s in held)


def test_time_window_keeps_a_call_whose_time_was_read_before_a_later_ones() -> None:
    # Each outcome's time is read before the breaker's lock: a thread can record 5.9 s
    # after another recorded 6.0 s. The newest second stays 6 and its call stays counted.
    config = BreakerConfig(window=WindowKind.TIME, window_size=10, minimum_number_of_calls=1)
    window = TimeWindow(config)
    window.record(6.0, False, False)
    window.record(5.9, True, False)
    window.record(6.1, False, True)
    assert (window.calls, window.failures, window.slow) == (3, 1, 1)
