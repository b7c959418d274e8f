"""The monitor state machine."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from tradewarden.probes import ConsecutivePolicy, ProbeResult, RatePolicy, decide

OK = ProbeResult(True, 0.01)
FAIL = ProbeResult.failure("boom", 0.01)
SLOW = ProbeResult(True, 0.01, error="slow response", degraded=True)


def test_success_is_up_at_once() -> None:
    assert decide("DOWN", [False, True], OK, ConsecutivePolicy()).state == "UP"


def test_degraded_success_is_degraded_with_its_reason() -> None:
    decision = decide("UP", [True], SLOW, ConsecutivePolicy())
    assert (decision.state, decision.reason) == ("DEGRADED", "slow response")


def test_one_failure_does_not_page_with_the_default_policy() -> None:
    decision = decide("UP", [True, False], FAIL, ConsecutivePolicy())
    assert decision.state == "UP"
    assert decision.reason == "1 of 2 failures: boom"


def test_consecutive_failures_go_down() -> None:
    decision = decide("UP", [True, False, False], FAIL, ConsecutivePolicy(down_after=2))
    assert decision.state == "DOWN"
    assert decision.reason == "2 consecutive failures: boom"


def test_pending_stays_pending_until_the_policy_says_down() -> None:
    assert decide("PENDING", [False], FAIL, ConsecutivePolicy(down_after=3)).state == "PENDING"


@given(
    history=st.lists(st.booleans(), min_size=1, max_size=30),
    down_after=st.integers(min_value=1, max_value=6),
    previous=st.sampled_from(["PENDING", "UP", "DOWN", "DEGRADED"]),
)
def test_consecutive_policy_matches_its_model(
    history: list[bool], down_after: int, previous: str
) -> None:
    result = OK if history[-1] else FAIL
    state = decide(previous, history, result, ConsecutivePolicy(down_after=down_after)).state  # type: ignore[arg-type]
    streak = len(history) - len("".join("x" if ok else "." for ok in history).rstrip("."))
    if history[-1]:
        assert state == "UP"
    elif streak >= down_after:
        assert state == "DOWN"
    else:
        assert state == previous


def test_rate_policy_needs_min_results() -> None:
    policy = RatePolicy(rate=0.5, window=10, min_results=4)
    assert decide("UP", [False, False, False], FAIL, policy).state == "UP"
    assert decide("UP", [True, False, False, False], FAIL, policy).state == "DOWN"


@given(
    history=st.lists(st.booleans(), min_size=1, max_size=40),
    rate=st.floats(min_value=0.05, max_value=1.0),
)
def test_rate_policy_matches_its_model(history: list[bool], rate: float) -> None:
    policy = RatePolicy(rate=rate, window=10, min_results=3)
    result = OK if history[-1] else FAIL
    state = decide("UP", history, result, policy).state
    window = history[-10:]
    if history[-1]:
        assert state == "UP"
    elif len(window) >= 3 and window.count(False) / len(window) >= rate:
        assert state == "DOWN"
    else:
        assert state == "UP"


def test_rate_policy_validates_min_results() -> None:
    with pytest.raises(ValidationError, match="min_results must not exceed window"):
        RatePolicy(rate=0.5, window=3, min_results=5)
