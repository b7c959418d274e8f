"""The kill switch against a model: random halts, resumes and outages on one store."""

from __future__ import annotations

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from tradewarden.guard.state import MemoryBackend, StateUnavailableError, TradingState
from tradewarden.guard.trading import KillSwitch, UnreadablePolicy

ACTIVE, REDUCING, HALTED = TradingState.ACTIVE, TradingState.REDUCING, TradingState.HALTED
POLICIES = [UnreadablePolicy.FAIL_CLOSED, UnreadablePolicy.KEEP_LAST_KNOWN]


class KillSwitchModel(RuleBasedStateMachine):
    """Two bots, one failing closed and one keeping the last state, on a memory store."""

    def __init__(self) -> None:
        super().__init__()
        self.backend = MemoryBackend()
        self.switches = [KillSwitch(self.backend, on_unreadable=p) for p in POLICIES]
        self.stored = ACTIVE
        self.store_ok = True
        self.unstored = [ACTIVE, ACTIVE]  # the strictest tightening each could not store

    def _tighten(self, index: int, target: TradingState, *, halt: bool) -> None:
        switch = self.switches[index]
        act = switch.halt if halt else switch.reduce
        if self.store_ok:
            act("bot", "model")
            self.stored = max(self.stored, target)
        else:
            with pytest.raises(StateUnavailableError):
                act("bot", "model")
            self.unstored[index] = max(self.unstored[index], target)

    @rule(index=st.integers(0, 1))
    def halt(self, index: int) -> None:
        self._tighten(index, HALTED, halt=True)

    @rule(index=st.integers(0, 1))
    def reduce(self, index: int) -> None:
        self._tighten(index, REDUCING, halt=False)

    @rule(index=st.integers(0, 1), to=st.sampled_from([ACTIVE, REDUCING]))
    def resume(self, index: int, to: TradingState) -> None:
        switch = self.switches[index]
        if not self.store_ok:
            with pytest.raises(StateUnavailableError):
                switch.resume("operator", "model", to=to)
        elif to > self.stored:
            with pytest.raises(ValueError, match="cannot tighten"):
                switch.resume("operator", "model", to=to)
        else:
            switch.resume("operator", "model", to=to)
            self.stored = to

    @rule()
    def fail(self) -> None:
        self.store_ok = False
        self.backend.fail()

    @rule()
    def recover(self) -> None:
        if self.store_ok:
            return
        self.store_ok = True
        self.backend.recover()
        for index, pending in enumerate(self.unstored):
            self.stored = max(self.stored, pending)
            self.unstored[index] = ACTIVE

    @invariant()
    def each_bot_enforces_what_the_model_says(self) -> None:
        if self.store_ok:
            assert [s.state for s in self.switches] == [self.stored, self.stored]
            assert not any(s.unreadable for s in self.switches)
            return
        closed, keeping = self.switches
        assert closed.state is HALTED
        assert keeping.state is max(self.stored, self.unstored[1])
        assert all(s.unreadable for s in self.switches)

    @invariant()
    def the_history_is_one_version_per_change(self) -> None:
        if not self.store_ok:
            return
        versions = [change.version for change in self.backend.history(limit=10_000)]
        assert versions == list(range(len(versions), 0, -1))

    @invariant()
    def active_follows_state(self) -> None:
        for switch in self.switches:
            assert switch.active == (switch.state is ACTIVE)

    def teardown(self) -> None:
        for switch in self.switches:
            switch.close()


KillSwitchModel.TestCase.settings = settings(max_examples=150, stateful_step_count=30)
test_the_kill_switch_follows_its_model = KillSwitchModel.TestCase
