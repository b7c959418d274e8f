"""The flush of one aggregation group, pure: what to announce, and what the group keeps.

Alertmanager's rules (``dispatch/dispatch.go``, ``notify.DedupStage``): a flush notifies
when an alert fires that the last notification did not announce, when an announced alert
resolved, or when ``repeat_interval`` has passed with alerts still firing; otherwise it
says nothing (deduplication). Muted alerts (silenced, inhibited) are left out; an alert
muted *after* it was announced stays remembered, so its resolution is announced too
(Alertmanager does not: #226). Resolved alerts leave the group after the flush. A
flapping alert's resolution is held back until it has stayed resolved (``held``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Set
from dataclasses import dataclass, field

from tradewarden.alerting._model import Alert

__all__ = ["FIRING", "GroupState", "Plan", "plan_flush"]

FIRING = "firing"


@dataclass(slots=True)
class GroupState:
    """What a group remembers between flushes (stored, so a restart resumes)."""

    key: str
    route_id: str
    labels: dict[str, str]
    members: set[str] = field(default_factory=set)
    notified: dict[str, str] = field(default_factory=dict)
    sequence: int = 0
    next_flush_ms: int | None = None
    last_flush_ms: int | None = None
    created_ms: int = 0


@dataclass(frozen=True, slots=True)
class Plan:
    """The outcome of a flush."""

    send: bool
    firing: tuple[Alert, ...]
    resolved: tuple[Alert, ...]
    notified: dict[str, str]
    leave: frozenset[str]


def plan_flush(
    group: GroupState,
    alerts: Mapping[str, Alert],
    *,
    now_ms: int,
    repeat_interval_ms: int,
    muted: Callable[[Alert], bool],
    held: Set[str] = frozenset(),
) -> Plan:
    """Decide a flush of ``group`` at ``now_ms``."""
    firing: list[Alert] = []
    resolved: list[Alert] = []
    kept: dict[str, str] = {}
    leave: set[str] = set()
    for fp in sorted(group.members):
        alert = alerts.get(fp)
        if alert is None:
            leave.add(fp)
            continue
        if alert.resolved(now_ms):
            if fp in held:
                if group.notified.get(fp) == FIRING:
                    kept[fp] = FIRING
                continue
            leave.add(fp)
            if group.notified.get(fp) == FIRING:
                resolved.append(alert)
            continue
        if muted(alert):
            if group.notified.get(fp) == FIRING:
                kept[fp] = FIRING  # announced before it was muted: its end will be too
            continue
        firing.append(alert)
        kept[fp] = FIRING
    new = any(group.notified.get(a.fingerprint) != FIRING for a in firing)
    repeat = (
        bool(firing)
        and group.last_flush_ms is not None
        and now_ms >= group.last_flush_ms + repeat_interval_ms
    )
    send = new or bool(resolved) or repeat
    return Plan(
        send=send,
        firing=tuple(firing),
        resolved=tuple(resolved),
        notified=kept if send else {f: s for f, s in group.notified.items() if f not in leave},
        leave=frozenset(leave),
    )
