"""The alert state machine against a simple model of Prometheus's rules."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from tradewarden.rules import RESOLVED_RETENTION_MS, Alert, AlertState, AlertTracker, Found
from tradewarden.series import Labels

A = Labels.of(alertname="X", instance="a")
B = Labels.of(alertname="X", instance="b")


@dataclass
class Model:
    """One label set's alert, as Prometheus's documentation describes it."""

    state: str = "absent"  # absent pending firing resolved
    active_at: int = 0
    keep_since: int | None = None
    resolved_at: int = 0

    def step(self, present: bool, t: int, hold: int, keep_for: int) -> None:
        if present:
            if self.state in ("absent", "resolved"):
                self.state, self.active_at, self.keep_since = "pending", t, None
            elif self.state == "firing":
                self.keep_since = None
        elif self.state == "pending":
            self.state = "absent"
        elif self.state == "firing":
            if keep_for > 0:
                self.keep_since = t if self.keep_since is None else self.keep_since
            if keep_for > 0 and t - self.keep_since < keep_for:  # type: ignore[operator]
                pass  # kept firing
            else:
                self.state, self.resolved_at = "resolved", t
        elif self.state == "resolved" and t - self.resolved_at > RESOLVED_RETENTION_MS:
            self.state = "absent"
        if self.state == "pending" and t - self.active_at >= hold:
            self.state = "firing"


def _observed(alert: Alert | None) -> str:
    if alert is None:
        return "absent"
    return {
        AlertState.PENDING: "pending",
        AlertState.FIRING: "firing",
        AlertState.INACTIVE: "resolved",
    }[alert.state]


steps = st.lists(
    st.tuples(st.integers(1, 600_000), st.booleans(), st.booleans()), min_size=1, max_size=60
)


@settings(max_examples=300, deadline=None)
@given(
    hold=st.sampled_from([0, 15_000, 60_000, 300_000]),
    keep_for=st.sampled_from([0, 30_000, 120_000]),
    sequence=steps,
)
def test_tracker_follows_the_model(
    hold: int, keep_for: int, sequence: list[tuple[int, bool, bool]]
) -> None:
    tracker = AlertTracker(hold, keep_for)
    models = {A: Model(), B: Model()}
    t = 1_700_000_000_000
    for dt, a_present, b_present in sequence:
        t += dt
        present = {A: a_present, B: b_present}
        found = {labels: Found(1.0) for labels, here in present.items() if here}
        current = tracker.update(found, t)
        for labels, model in models.items():
            model.step(present[labels], t, hold, keep_for)
            alert = tracker.active.get(labels)
            assert _observed(alert) == model.state, (labels, t)
            in_alerts_series = any(a.labels == labels for a in current)
            assert in_alerts_series == (model.state in ("pending", "firing"))
            if alert is not None:
                assert alert.active_at_ms == model.active_at
                if alert.state is AlertState.FIRING:
                    assert alert.fired_at_ms is not None
                    assert alert.fired_at_ms - alert.active_at_ms >= hold
                if alert.state is AlertState.INACTIVE:
                    assert alert.resolved_at_ms == model.resolved_at


def test_zero_for_fires_on_the_first_evaluation() -> None:
    tracker = AlertTracker(0)
    (alert,) = tracker.update({A: Found(3.0, (("summary", "s"),))}, 1000)
    assert alert.state is AlertState.FIRING
    assert (alert.active_at_ms, alert.fired_at_ms, alert.value) == (1000, 1000, 3.0)
    assert alert.annotations == (("summary", "s"),)


def test_value_and_annotations_follow_the_latest_evaluation() -> None:
    tracker = AlertTracker(60_000)
    tracker.update({A: Found(1.0, (("s", "one"),))}, 0)
    (alert,) = tracker.update({A: Found(2.0, (("s", "two"),))}, 15_000)
    assert (alert.value, alert.annotations, alert.active_at_ms) == (2.0, (("s", "two"),), 0)
    assert alert.state is AlertState.PENDING
    assert alert.last_eval_ms == 15_000


def test_alert_is_sent_at_once_and_when_resolved_then_every_resend_delay() -> None:
    tracker = AlertTracker(0)
    (alert,) = tracker.update({A: Found(1.0)}, 0)
    assert alert.needs_sending(0, 60_000)
    alert.last_sent_ms = 0
    assert not alert.needs_sending(30_000, 60_000)
    assert alert.needs_sending(60_001, 60_000)
    tracker.update({}, 70_000)
    assert alert.state is AlertState.INACTIVE
    assert alert.needs_sending(70_000, 60_000)
    alert.last_sent_ms = 70_000
    assert not alert.needs_sending(80_000, 60_000)
    assert alert.needs_sending(130_001, 60_000)  # Prometheus resends resolved ones too


def test_pending_alerts_are_never_sent() -> None:
    tracker = AlertTracker(60_000)
    (alert,) = tracker.update({A: Found(1.0)}, 0)
    assert not alert.needs_sending(0, 60_000)
