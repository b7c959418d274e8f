"""The breaker against a small reference model of its state machine (hypothesis).

The model is the rules of ``BreakerConfig`` written as plainly as possible; the machine
makes immediate calls, holds guarded blocks open across other steps (so trials overlap
and outlive transitions), moves the clock and takes operator actions, and after every step
the breaker and the model must agree on the state and the failure count.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from tradewarden.clock import ManualClock
from tradewarden.guard.breaker import (
    BreakerConfig,
    BreakerState,
    CircuitBreaker,
    CircuitOpenError,
    Guarded,
    WindowKind,
)

from .conftest import BoomError

S = BreakerState


class IgnoredError(Exception):
    """Configured as ignored."""


@dataclass
class Model:
    config: BreakerConfig
    state: BreakerState = S.CLOSED
    failures: int = 0
    last_failure: float = -math.inf
    open_until: float = 0.0
    inflight: int = 0
    trial_ok: int = 0
    epoch: int = 0
    rejected: int = 0
    transitions: list[tuple[BreakerState, BreakerState]] = field(default_factory=list)
    window: deque[tuple[bool, bool]] | None = None  # (failed, slow) of the last calls

    def __post_init__(self) -> None:
        if self.config.window is WindowKind.COUNT:
            self.window = deque(maxlen=self.config.window_size)

    def exceeded(self) -> bool:
        assert self.window is not None
        calls = len(self.window)
        minimum = min(self.config.minimum_number_of_calls, self.config.window_size)
        failures = sum(f for f, _ in self.window)
        slow = sum(s for _, s in self.window)
        return calls >= minimum and (
            failures * 100 >= self.config.failure_rate_threshold * calls
            or slow * 100 >= self.config.slow_call_rate_threshold * calls
        )

    def go(self, new: BreakerState, now: float) -> None:
        old = self.state
        if new is old and new is not S.CLOSED:
            return
        self.state, self.epoch, self.inflight, self.trial_ok = new, self.epoch + 1, 0, 0
        if new is S.OPEN:
            self.open_until = now + self.config.timeout_s
        if new is S.CLOSED:
            self.failures, self.last_failure = 0, -math.inf
            if self.window is not None:
                self.window.clear()
        if new is not old:
            self.transitions.append((old, new))

    def tick(self, now: float) -> None:
        if self.state is S.OPEN and now >= self.open_until:
            self.go(S.HALF_OPEN, now)

    def admit(self, now: float) -> tuple[str, int, float] | None:
        self.tick(now)
        if self.state is S.CLOSED:
            return ("closed", self.epoch, now)
        if self.state is S.DISABLED:
            return ("pass", self.epoch, now)
        if self.state is S.HALF_OPEN and self.inflight < self.config.permitted_calls_in_half_open:
            self.inflight += 1
            return ("trial", self.epoch, now)
        self.rejected += 1
        return None

    def complete(self, ticket: tuple[str, int, float], outcome: str, now: float) -> None:
        kind, epoch, started = ticket
        slow = self.window is not None and now - started >= self.config.slow_call_duration_s
        if kind == "pass" or (outcome == "ignored" and kind == "closed"):
            return
        if kind == "trial":
            if epoch != self.epoch or self.state is not S.HALF_OPEN:
                return
            self.inflight -= 1
            if outcome == "fail" or (outcome == "ok" and slow):
                self.go(S.OPEN, now)
            elif outcome == "ok":
                self.trial_ok += 1
                if self.trial_ok >= self.config.success_threshold:
                    self.go(S.CLOSED, now)
            return
        if self.state is not S.CLOSED:
            return
        if self.window is not None:
            self.window.append((outcome == "fail", slow))
            if self.exceeded():
                self.go(S.OPEN, now)
            return
        if outcome == "ok":
            self.failures = 0
            return
        if now - self.last_failure > self.config.monitoring_period_s:
            self.failures = 0
        self.failures += 1
        self.last_failure = now
        if self.failures >= self.config.failure_threshold:
            self.go(S.OPEN, now)


CONFIGS = [
    BreakerConfig(
        failure_threshold=3,
        success_threshold=2,
        timeout_s=10,
        monitoring_period_s=20,
        permitted_calls_in_half_open=2,
        ignore_exceptions=(IgnoredError,),
    ),
    BreakerConfig(
        failure_threshold=1,
        success_threshold=1,
        timeout_s=5,
        monitoring_period_s=1,
        permitted_calls_in_half_open=1,
        ignore_exceptions=(IgnoredError,),
    ),
    BreakerConfig(
        window=WindowKind.COUNT,
        window_size=4,
        minimum_number_of_calls=3,
        failure_rate_threshold=50,
        slow_call_duration_s=2,
        slow_call_rate_threshold=60,
        success_threshold=2,
        timeout_s=10,
        permitted_calls_in_half_open=2,
        ignore_exceptions=(IgnoredError,),
    ),
]
RAISES = {"fail": BoomError, "ignored": IgnoredError}


class BreakerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.clock = ManualClock()
        self.blocks: list[tuple[Guarded, tuple[str, int, float]]] = []
        self.heard: list[tuple[BreakerState, BreakerState]] = []

    @initialize(config=st.sampled_from(CONFIGS))
    def build(self, config: BreakerConfig) -> None:
        self.model = Model(config)
        self.breaker = CircuitBreaker(
            "model",
            config,
            clock=self.clock,
            listeners=[lambda _b, old, new: self.heard.append((old, new))],
        )

    @rule(outcome=st.sampled_from(["ok", "fail", "ignored"]), duration=st.sampled_from([0, 3]))
    def call(self, outcome: str, duration: float) -> None:
        now = self.clock.monotonic()
        ticket = self.model.admit(now)

        def run() -> str:
            self.clock.advance(duration)  # a slow call, with a window
            if outcome in RAISES:
                raise RAISES[outcome]
            return "done"

        if ticket is None:
            with pytest.raises(CircuitOpenError):
                self.breaker.call(run)
            return
        if outcome in RAISES:
            with pytest.raises(RAISES[outcome]):
                self.breaker.call(run)
        else:
            assert self.breaker.call(run) == "done"
        self.model.complete(ticket, outcome, self.clock.monotonic())

    @rule()
    def enter(self) -> None:
        ticket = self.model.admit(self.clock.monotonic())
        block = self.breaker.guarded()
        if ticket is None:
            with pytest.raises(CircuitOpenError):
                block.__enter__()
            return
        block.__enter__()
        self.blocks.append((block, ticket))

    @precondition(lambda self: self.blocks)
    @rule(data=st.data(), outcome=st.sampled_from(["ok", "fail", "ignored"]))
    def leave(self, data: st.DataObject, outcome: str) -> None:
        index = data.draw(st.integers(0, len(self.blocks) - 1))
        block, ticket = self.blocks.pop(index)
        exc = RAISES[outcome]() if outcome in RAISES else None
        block.__exit__(type(exc) if exc else None, exc, None)
        self.model.complete(ticket, outcome, self.clock.monotonic())

    @rule(seconds=st.sampled_from([0.5, 1.0, 2.0, 5.0, 10.0, 25.0]))
    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)

    @rule(action=st.sampled_from(["force_open", "disable", "open", "reset", "close"]))
    def operator(self, action: str) -> None:
        target = {
            "force_open": S.FORCED_OPEN,
            "disable": S.DISABLED,
            "open": S.OPEN,
            "reset": S.CLOSED,
            "close": S.CLOSED,
        }[action]
        getattr(self.breaker, action)()
        self.model.go(target, self.clock.monotonic())

    @invariant()
    def agree(self) -> None:
        if not hasattr(self, "model"):
            return
        self.model.tick(self.clock.monotonic())
        assert self.breaker.state is self.model.state
        assert self.breaker.status().failure_count == self.model.failures
        assert self.breaker.rejected_total == self.model.rejected
        assert self.heard == self.model.transitions


TestBreakerAgainstModel = BreakerMachine.TestCase
TestBreakerAgainstModel.settings = settings(max_examples=300, stateful_step_count=40, deadline=None)
