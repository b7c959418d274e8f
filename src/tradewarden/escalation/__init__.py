"""People: on-call schedules, escalation policies, acknowledgements and signed ack links.

``who_is_on_call(schedule, layer, at)`` and ``next_action(policy, state, now)`` are the
pure decisions; ``Escalator`` keeps escalations in the store (deadlines resume after a
restart), fires due steps through ``Notifier.enqueue`` and stops on an acknowledgement
(API, CLI or a signed link) or a resolve.
"""

from tradewarden.escalation._config import (
    LayerConfig,
    OnCallTarget,
    PersonConfig,
    PolicyConfig,
    ScheduleConfig,
    StepConfig,
    check_escalation,
    parse_on_call,
)
from tradewarden.escalation._escalator import (
    EnqueuePort,
    EscalationObserver,
    Escalator,
    OverrideError,
)
from tradewarden.escalation._links import ACK_LINK_TTL_S, AckLinks, AckTicket
from tradewarden.escalation._metrics import EscalationMetrics
from tradewarden.escalation._policy import (
    SEQUENCE_BASE,
    Done,
    EscalationState,
    EscalationStatus,
    Fire,
    Wait,
    default_policy,
    initial_state,
    next_action,
    notification_sequence,
    policy_for,
)
from tradewarden.escalation._schedule import (
    Override,
    handoff_before,
    rotation_member,
    who_is_on_call,
)

__all__ = [
    "ACK_LINK_TTL_S",
    "SEQUENCE_BASE",
    "AckLinks",
    "AckTicket",
    "Done",
    "EnqueuePort",
    "EscalationMetrics",
    "EscalationObserver",
    "EscalationState",
    "EscalationStatus",
    "Escalator",
    "Fire",
    "LayerConfig",
    "OnCallTarget",
    "Override",
    "OverrideError",
    "PersonConfig",
    "PolicyConfig",
    "ScheduleConfig",
    "StepConfig",
    "Wait",
    "check_escalation",
    "default_policy",
    "handoff_before",
    "initial_state",
    "next_action",
    "notification_sequence",
    "parse_on_call",
    "policy_for",
    "rotation_member",
    "who_is_on_call",
]
