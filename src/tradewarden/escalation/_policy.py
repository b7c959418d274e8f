"""What an escalation does next: a pure function of its policy, its state and the time.

A state is the next step to fire, the round (pass through the policy), when that step is
due and the status. A step fires when due; the next is due ``wait`` after the firing (not
after the planned time: after a restart that fired a step late, the people paged still
get their whole wait). After the last step of the last round the escalation is
``exhausted``: nothing more fires, it stays open until acknowledged or resolved.

Each firing has a sequence number, ``round * len(steps) + step + 1``, stable across
retries, so a step fired again after a crash enqueues the same notifications (the outbox
drops the repeat).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from tradewarden.escalation._config import (
    ANY_SCHEDULE,
    MAX_REPEAT,
    MAX_STEPS,
    PolicyConfig,
    StepConfig,
)
from tradewarden.notify import Severity

__all__ = [
    "SEQUENCE_BASE",
    "Done",
    "EscalationState",
    "EscalationStatus",
    "Fire",
    "Wait",
    "default_policy",
    "initial_state",
    "next_action",
    "notification_sequence",
    "policy_for",
]

# Escalation notifications use sequences from here up, apart from the dispatcher's own
# (0, 1, 2, ... for repeats): SEQUENCE_BASE + generation * SLOT + firing.
SEQUENCE_BASE = 1_000_000_000
SLOT = MAX_STEPS * (MAX_REPEAT + 1) + 1  # firings 1.. plus 0 for the acknowledgement


class EscalationStatus(StrEnum):
    """Where an escalation stands."""

    OPEN = "open"  # steps still fire
    EXHAUSTED = "exhausted"  # every step of every round fired, nobody acknowledged
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


@dataclass(frozen=True)
class EscalationState:
    """The next step (index) of ``round``, due at ``due_at`` (epoch s; None: nothing due)."""

    step: int = 0
    round: int = 0
    due_at: float | None = None
    status: EscalationStatus = EscalationStatus.OPEN
    fired: int = 0  # firings so far


@dataclass(frozen=True)
class Fire:
    """Fire ``step`` now (firing number ``sequence``); then the state is ``state``."""

    step: StepConfig
    sequence: int
    state: EscalationState


@dataclass(frozen=True)
class Wait:
    """Nothing to do before ``until`` (epoch s)."""

    until: float


@dataclass(frozen=True)
class Done:
    """Nothing will fire again (acknowledged, resolved, exhausted or an empty policy)."""

    status: EscalationStatus


Action = Fire | Wait | Done


def initial_state(policy: PolicyConfig, now: float) -> EscalationState:
    """Return the state of a new escalation: the first step due at once."""
    if not policy.steps:
        return EscalationState(status=EscalationStatus.EXHAUSTED)
    return EscalationState(due_at=now)


def next_action(policy: PolicyConfig, state: EscalationState, now: float) -> Action:
    """Return what to do at ``now``."""
    if state.status is not EscalationStatus.OPEN or state.due_at is None or not policy.steps:
        status = state.status
        if status is EscalationStatus.OPEN:
            status = EscalationStatus.EXHAUSTED
        return Done(status)
    if now < state.due_at:
        return Wait(state.due_at)
    step = policy.steps[state.step]
    sequence = state.round * len(policy.steps) + state.step + 1
    following = state.step + 1
    if following < len(policy.steps):
        after = replace(state, step=following, due_at=now + step.wait_s, fired=state.fired + 1)
    elif state.round < policy.repeat:
        after = replace(
            state, step=0, round=state.round + 1, due_at=now + step.wait_s, fired=state.fired + 1
        )
    else:
        after = replace(
            state, due_at=None, status=EscalationStatus.EXHAUSTED, fired=state.fired + 1
        )
    return Fire(step, sequence, after)


def notification_sequence(generation: int, firing: int) -> int:
    """Return the outbox sequence of ``firing`` (0: the acknowledgement notice) of an
    escalation's ``generation`` (it grows each time the same key fires again after a
    resolve)."""
    return SEQUENCE_BASE + generation * SLOT + firing


def default_policy(severity: Severity) -> PolicyConfig:
    """Return the seeds' escalation for ``severity`` over every schedule's layers.

    P0: page the primary at once (each person's channels together: SMS/phone, chat,
    e-mail), the secondary after 15 minutes unacknowledged, twice more round. P1: the
    primary, the secondary after 30 minutes (its response-time target). P2 and P3 page
    nobody (chat only, during business hours; batched): the route's notice is all.
    """
    primary = (f"{ANY_SCHEDULE}:primary",)
    secondary = (f"{ANY_SCHEDULE}:secondary",)
    if severity is Severity.P0:
        steps = (
            StepConfig(on_call=primary, wait_minutes=15),
            StepConfig(on_call=secondary, wait_minutes=15),
        )
        return PolicyConfig(name="default-P0", steps=steps, repeat=2)
    if severity is Severity.P1:
        steps = (
            StepConfig(on_call=primary, wait_minutes=30),
            StepConfig(on_call=secondary, wait_minutes=30),
        )
        return PolicyConfig(name="default-P1", steps=steps)
    return PolicyConfig(name=f"default-{severity.value}")


def policy_for(severity: Severity, policies: tuple[PolicyConfig, ...]) -> PolicyConfig:
    """Return the configured default policy of ``severity``, else the seeds' one."""
    for policy in policies:
        if severity in policy.severities:
            return policy
    return default_policy(severity)
