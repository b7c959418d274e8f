"""next_action: steps in order, waits unacknowledged, rounds, and the seeds' defaults."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tradewarden.escalation import (
    Done,
    EscalationState,
    EscalationStatus,
    Fire,
    PolicyConfig,
    StepConfig,
    Wait,
    default_policy,
    initial_state,
    next_action,
    notification_sequence,
    policy_for,
)
from tradewarden.escalation._config import MAX_REPEAT, MAX_STEPS
from tradewarden.notify import Severity

POLICY = PolicyConfig(
    name="page",
    steps=(
        StepConfig(channels=("chat",), wait_minutes=5),
        StepConfig(people=("alice",), wait_minutes=10),
    ),
    repeat=1,
)


def test_steps_fire_in_order_each_after_its_wait_then_the_whole_policy_again() -> None:
    state = initial_state(POLICY, 1000.0)
    fired: list[tuple[int, float]] = []
    now = 1000.0
    while True:
        action = next_action(POLICY, state, now)
        if isinstance(action, Done):
            break
        if isinstance(action, Wait):
            assert action.until > now
            now = action.until
            continue
        assert isinstance(action, Fire)
        fired.append((action.sequence, now))
        state = action.state
    assert fired == [(1, 1000.0), (2, 1300.0), (3, 1900.0), (4, 2200.0)]
    assert state.status is EscalationStatus.EXHAUSTED
    assert state.fired == 4


def test_nothing_fires_before_the_deadline_and_a_late_step_gives_its_whole_wait() -> None:
    state = EscalationState(step=1, due_at=2000.0, fired=1)
    assert next_action(POLICY, state, 1999.0) == Wait(2000.0)
    late = next_action(POLICY, state, 5000.0)
    assert isinstance(late, Fire)
    assert late.state.due_at == 5000.0 + 600.0
    assert late.state.round == 1
    assert late.state.step == 0


def test_acknowledged_resolved_and_empty_policies_do_nothing() -> None:
    for status in (EscalationStatus.ACKNOWLEDGED, EscalationStatus.RESOLVED):
        assert next_action(POLICY, EscalationState(due_at=0.0, status=status), 10.0) == Done(status)
    empty = PolicyConfig(name="none")
    assert initial_state(empty, 0.0).status is EscalationStatus.EXHAUSTED
    assert next_action(empty, initial_state(empty, 0.0), 0.0) == Done(EscalationStatus.EXHAUSTED)


def test_the_seeds_page_the_primary_then_the_secondary_after_15_minutes_for_p0() -> None:
    p0 = default_policy(Severity.P0)
    assert [step.on_call for step in p0.steps] == [("*:primary",), ("*:secondary",)]
    assert p0.steps[0].wait_minutes == 15
    assert p0.repeat >= 1
    assert default_policy(Severity.P1).steps[0].wait_minutes == 30
    assert default_policy(Severity.P2).steps == ()
    assert default_policy(Severity.P3).steps == ()
    mine = POLICY.model_copy(update={"severities": (Severity.P0,)})
    assert policy_for(Severity.P0, (mine,)) is mine
    assert policy_for(Severity.P1, (mine,)).name == "default-P1"


@given(
    st.integers(min_value=1, max_value=MAX_STEPS),
    st.integers(min_value=0, max_value=MAX_REPEAT),
    st.integers(min_value=0, max_value=1000),
)
def test_every_firing_has_its_own_sequence_in_its_generation_slot(
    steps: int, repeat: int, generation: int
) -> None:
    policy = PolicyConfig(name="p", steps=(StepConfig(wait_minutes=0),) * steps, repeat=repeat)
    state = initial_state(policy, 0.0)
    sequences = []
    while isinstance(action := next_action(policy, state, 0.0), Fire):
        sequences.append(notification_sequence(generation, action.sequence))
        state = action.state
    assert len(sequences) == len(set(sequences)) == steps * (repeat + 1)
    ack = notification_sequence(generation, 0)
    assert ack not in sequences
    assert max(sequences) < notification_sequence(generation + 1, 0)
