"""The alert state machine, pure: inactive -> pending -> firing -> resolved.

It follows Prometheus's ``rules/alerting.go``: an alert is pending from the first
evaluation its expression returns its label set, firing once it has been active for the
rule's ``for``, kept firing for ``keep_firing_for`` after the expression stops returning
it, then resolved (inactive) and kept in the active list for 15 minutes so that the
resolution reaches the hand-off. A pending alert that disappears is dropped at once.
Times are integer milliseconds.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from tradewarden.series import Labels

__all__ = ["RESOLVED_RETENTION_MS", "Alert", "AlertState", "AlertTracker", "Found"]

RESOLVED_RETENTION_MS = 15 * 60_000


class AlertState(StrEnum):
    """An alert's state, as Prometheus names it."""

    INACTIVE = "inactive"
    PENDING = "pending"
    FIRING = "firing"


@dataclass(slots=True)
class Alert:
    """One alert instance of a rule: an identifying label set and its state."""

    labels: Labels
    annotations: tuple[tuple[str, str], ...]
    state: AlertState
    value: float
    active_at_ms: int
    fired_at_ms: int | None = None
    resolved_at_ms: int | None = None
    last_sent_ms: int | None = None
    valid_until_ms: int | None = None
    keep_firing_since_ms: int | None = None
    last_eval_ms: int = 0

    @property
    def name(self) -> str:
        """The ``alertname`` label."""
        return self.labels.get("alertname")

    def needs_sending(self, t_ms: int, resend_delay_ms: int) -> bool:
        """Whether the hand-off should hear of this alert now (Prometheus's rule)."""
        if self.state is AlertState.PENDING:
            return False
        if self.resolved_at_ms is not None and (
            self.last_sent_ms is None or self.resolved_at_ms > self.last_sent_ms
        ):
            return True
        if self.last_sent_ms is None:
            return True
        return self.last_sent_ms + resend_delay_ms < t_ms


@dataclass(frozen=True, slots=True)
class Found:
    """What one evaluation found for a label set: the value and expanded annotations."""

    value: float
    annotations: tuple[tuple[str, str], ...] = ()


@dataclass(slots=True)
class AlertTracker:
    """The active alerts of one alerting rule, stepped by :meth:`update`."""

    hold_ms: int = 0
    keep_firing_for_ms: int = 0
    resolved_retention_ms: int = RESOLVED_RETENTION_MS
    active: dict[Labels, Alert] = field(default_factory=dict)

    def update(self, found: Mapping[Labels, Found], t_ms: int) -> list[Alert]:
        """Apply one evaluation at ``t_ms``; return the alerts that are pending or firing
        after it (those that go into ``ALERTS``)."""
        for labels, hit in found.items():
            alert = self.active.get(labels)
            if alert is not None and alert.state is not AlertState.INACTIVE:
                alert.value = hit.value
                alert.annotations = hit.annotations
                alert.last_eval_ms = t_ms
                continue
            self.active[labels] = Alert(
                labels, hit.annotations, AlertState.PENDING, hit.value, t_ms, last_eval_ms=t_ms
            )
        current: list[Alert] = []
        for labels, alert in list(self.active.items()):
            if labels not in found:
                keep_firing = False
                if alert.state is AlertState.FIRING and self.keep_firing_for_ms > 0:
                    if alert.keep_firing_since_ms is None:
                        alert.keep_firing_since_ms = t_ms
                    keep_firing = t_ms - alert.keep_firing_since_ms < self.keep_firing_for_ms
                if alert.state is AlertState.PENDING or (
                    alert.resolved_at_ms is not None
                    and t_ms - alert.resolved_at_ms > self.resolved_retention_ms
                ):
                    del self.active[labels]
                if alert.state is not AlertState.INACTIVE and not keep_firing:
                    alert.state = AlertState.INACTIVE
                    alert.resolved_at_ms = t_ms
                alert.last_eval_ms = t_ms
                if not keep_firing:
                    continue
            else:
                alert.keep_firing_since_ms = None
            if alert.state is AlertState.PENDING and t_ms - alert.active_at_ms >= self.hold_ms:
                alert.state = AlertState.FIRING
                alert.fired_at_ms = t_ms
            current.append(alert)
        return current

    def __iter__(self) -> Iterator[Alert]:
        return iter(self.active.values())

    def clear(self) -> None:
        """Forget every alert (a rule over its limit does this, as Prometheus)."""
        self.active.clear()
