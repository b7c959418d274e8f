"""compute_kpis over tables of rows: incident times, alert groups, monitor flips."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tradewarden.kpis import (
    EscalationRow,
    FlipRow,
    IncidentRow,
    KpiTargets,
    Window,
    alertname_of_title,
    availability_of,
    compute_kpis,
)

T0 = datetime(2026, 11, 23, tzinfo=UTC)  # a Monday
WEEK = Window(T0, T0 + timedelta(days=7))
NOW = WEEK.end


def at(minutes: float) -> datetime:
    """Return T0 plus ``minutes``."""
    return T0 + timedelta(minutes=minutes)


def incident(
    number: int,
    severity: str = "P1",
    *,
    impact: float | None = 0,
    detected: float | None = None,
    notified: float | None = None,
    acked: float | None = None,
    resolved: float | None = None,
    false_positive: bool = False,
    group_key: str | None = None,
) -> IncidentRow:
    """Return an incident whose times are minutes after T0."""

    def _t(value: float | None) -> datetime | None:
        return None if value is None else at(value)

    return IncidentRow(
        public_id=f"INC-2026-{number:04d}",
        title=f"incident {number}",
        severity=severity,
        status="resolved" if resolved is not None else "investigating",
        created_at=at(detected if detected is not None else (impact or 0)),
        impact_started_at=_t(impact),
        detected_at=_t(detected),
        notified_at=_t(notified),
        acknowledged_at=_t(acked),
        resolved_at=_t(resolved),
        false_positive=false_positive,
        group_key=group_key,
    )


def group(
    key: str, opened: float, *, acked: float | None = None, resolved: float | None = None
) -> EscalationRow:
    """Return a notified alert group whose times are minutes after T0."""
    return EscalationRow(
        key=key,
        opened_at=at(opened),
        acknowledged_at=None if acked is None else at(acked),
        resolved_at=None if resolved is None else at(resolved),
    )


def test_times_are_means_per_severity_and_overall() -> None:
    rows = [
        incident(1, "P0", impact=0, detected=2, notified=3, acked=5, resolved=20),
        incident(2, "P0", impact=100, detected=104, notified=104, acked=110, resolved=140),
        incident(3, "P2", impact=200, detected=201, notified=201, acked=231, resolved=290),
    ]
    kpis = compute_kpis(rows, [], [], WEEK)
    assert kpis.mttd["P0"].mean_s == 3 * 60  # (2 + 4) / 2 minutes
    assert kpis.mttd["all"].mean_s == pytest.approx((2 + 4 + 1) / 3 * 60)
    assert kpis.mtta["P0"].mean_s == 4 * 60  # (2 + 6) / 2
    assert kpis.mtta["P2"].count == 1
    assert kpis.mtta["P2"].mean_s == 30 * 60
    assert kpis.mttr["P0"].mean_s == 30 * 60  # (20 + 40) / 2
    assert kpis.mttr["P0"].median_s == 30 * 60
    assert kpis.mttr["P0"].max_s == 40 * 60
    assert kpis.mttr["P1"].count == 0
    assert kpis.mttr["P1"].mean_s is None
    assert kpis.mttr["all"].mean_s == pytest.approx((20 + 40 + 90) / 3 * 60)
    assert kpis.incidents.by_severity == {"P0": 2, "P1": 0, "P2": 1, "P3": 0}


def test_open_and_unacknowledged_incidents_are_counted_not_averaged() -> None:
    rows = [
        incident(1, impact=0, detected=1, notified=1, acked=3, resolved=10),
        incident(2, impact=50, detected=55, notified=56),  # open, nobody acknowledged
    ]
    kpis = compute_kpis(rows, [], [], WEEK)
    assert (kpis.incidents.total, kpis.incidents.open, kpis.incidents.resolved) == (2, 1, 1)
    assert kpis.incidents.unacknowledged == 1
    assert kpis.mttr["all"].count == 1
    assert kpis.mttr["all"].mean_s == 10 * 60
    assert kpis.mtta["all"].count == 1
    assert kpis.mttd["all"].count == 2


def test_false_positives_are_counted_but_not_timed() -> None:
    rows = [
        incident(1, impact=0, detected=1, resolved=10),
        incident(2, impact=20, detected=21, resolved=500, false_positive=True),
    ]
    kpis = compute_kpis(rows, [], [], WEEK)
    assert kpis.incidents.false_positive == 1
    assert kpis.mttr["all"].count == 1
    assert kpis.mttr["all"].mean_s == 10 * 60
    # Not linked to a notified group: one noisy alert of its own.
    assert (kpis.alert_noise.numerator, kpis.alert_noise.denominator) == (1, 1)


def test_an_incident_belongs_to_the_window_its_impact_started_in() -> None:
    before = incident(1, impact=-10, detected=5, resolved=30)
    after = incident(2, impact=7 * 24 * 60 + 1, resolved=7 * 24 * 60 + 10)
    without_impact = incident(3, impact=None, detected=60, resolved=70)
    kpis = compute_kpis([before, after, without_impact], [], [], WEEK)
    assert kpis.incidents.total == 1
    assert kpis.mttr["all"].mean_s == 10 * 60  # from detected_at when the impact is unknown
    assert kpis.mttd["all"].count == 0  # MTTD needs both times


def test_a_negative_difference_counts_as_zero() -> None:
    kpis = compute_kpis([incident(1, impact=10, detected=8, resolved=30)], [], [], WEEK)
    assert kpis.mttd["all"].mean_s == 0


def test_p0_p1_within_two_hours_leaves_out_the_undecided() -> None:
    rows = [
        incident(1, "P0", impact=0, resolved=119),  # within
        incident(2, "P1", impact=0, resolved=121),  # not within
        incident(3, "P1", impact=10),  # open for days at NOW: missed
        incident(4, "P2", impact=0, resolved=500),  # not P0/P1
        incident(5, "P0", impact=7 * 24 * 60 - 30),  # open for 30 minutes: undecided
    ]
    stat = compute_kpis(rows, [], [], WEEK).p0p1_resolved_within_2h
    assert (stat.numerator, stat.denominator) == (1, 3)
    assert stat.ratio == pytest.approx(1 / 3)


def test_alert_noise_and_fast_acknowledgements_of_groups() -> None:
    groups = [
        group("a", 0, acked=2, resolved=30),  # answered fast
        group("b", 10, acked=20, resolved=40),  # answered late
        group("c", 100, resolved=103),  # resolved on its own: noisy, not answered
        group("d", 200, acked=201, resolved=210),  # its incident is a false positive
        group("e", 7 * 24 * 60 - 2),  # open for 2 minutes: undecided
        group("f", 300),  # open, unacknowledged for days: missed, not yet noise
    ]
    incidents = [incident(9, impact=200, false_positive=True, group_key="d")]
    kpis = compute_kpis(incidents, groups, [], WEEK)
    noise = kpis.alert_noise
    assert (noise.numerator, noise.denominator) == (2, 4)  # c and d of a, b, c, d
    fast = kpis.ack_within_5m
    assert (fast.numerator, fast.denominator) == (2, 5)  # a and d of a, b, c, d, f
    assert kpis.alerts_notified == 6
    assert kpis.alerts_unresolved == 2


def test_an_incident_acknowledgement_acknowledges_its_group() -> None:
    groups = [group("g", 0, resolved=60)]
    incidents = [incident(1, impact=0, notified=0, acked=3, resolved=60, group_key="g")]
    kpis = compute_kpis(incidents, groups, [], WEEK)
    assert (kpis.alert_noise.numerator, kpis.alert_noise.denominator) == (0, 1)
    assert (kpis.ack_within_5m.numerator, kpis.ack_within_5m.denominator) == (1, 1)


def test_groups_opened_outside_the_window_are_ignored() -> None:
    kpis = compute_kpis([], [group("old", -5, resolved=1)], [], WEEK)
    assert kpis.alerts_notified == 0
    assert kpis.alert_noise.ratio is None


def test_an_empty_period_has_no_data_never_a_perfect_score() -> None:
    kpis = compute_kpis([], [], [], WEEK, monitors=["api"])
    assert kpis.incidents.total == 0
    assert {k.name: k.status for k in kpis.headline} == {
        "mttd": "no_data",
        "mtta": "no_data",
        "mttr": "no_data",
        "alert_noise": "no_data",
        "ack_within_5m": "no_data",
        "p0p1_resolved_within_2h": "no_data",
        "availability:api": "no_data",
    }
    assert kpis.availability["api"].ratio is None


def test_targets_decide_met_and_not_met() -> None:
    rows = [incident(1, "P0", impact=0, detected=4, notified=4, acked=6, resolved=45)]
    targets = KpiTargets(mttd_s=300, mtta_s=60, mttr_s=1800)
    status = {k.name: k.status for k in compute_kpis(rows, [], [], WEEK, targets=targets).headline}
    assert status["mttd"] == "met"  # 4 min < 5 min
    assert status["mtta"] == "not_met"  # 2 min, target 1 min
    assert status["mttr"] == "not_met"  # 45 min, target 30 min
    assert status["p0p1_resolved_within_2h"] == "met"  # 1 of 1 > 90 %


FLIPS_TABLE = [
    # (flips as (minutes, old, new), expected available minutes, down minutes, excluded)
    pytest.param([(-60, "PENDING", "UP")], 600, 0, 0, id="a flip before the window: UP"),
    pytest.param(
        [(-60, "PENDING", "UP"), (100, "UP", "DOWN"), (130, "DOWN", "UP")],
        570,
        30,
        0,
        id="thirty minutes down",
    ),
    pytest.param(
        [(-60, "UP", "DOWN"), (60, "DOWN", "DEGRADED")], 540, 60, 0, id="degraded is available"
    ),
    pytest.param([(100, "PENDING", "UP")], 500, 0, 100, id="before the first flip: its old state"),
    pytest.param(
        [(-5, "UP", "PAUSED"), (300, "PAUSED", "UP")], 300, 0, 300, id="paused is not counted"
    ),
    pytest.param([], 0, 0, 600, id="no flip at all: unknown"),
    pytest.param([(700, "PENDING", "DOWN")], 0, 0, 600, id="only a flip after the window"),
]


@pytest.mark.parametrize(("flips", "available", "down", "excluded"), FLIPS_TABLE)
def test_availability_from_flips(
    flips: list[tuple[float, str, str]], available: float, down: float, excluded: float
) -> None:
    window = Window(T0, at(600))
    rows = [FlipRow("api", old, new, at(m)) for m, old, new in flips if at(m) < window.end]
    result = availability_of("api", rows, window, window.end)
    assert (result.available_s, result.down_s, result.excluded_s) == (
        available * 60,
        down * 60,
        excluded * 60,
    )


def test_availability_stops_at_now() -> None:
    window = Window(T0, at(600))
    rows = [FlipRow("api", "PENDING", "UP", at(-1)), FlipRow("api", "UP", "DOWN", at(90))]
    result = availability_of("api", rows, window, at(100))
    assert (result.available_s, result.down_s, result.excluded_s) == (90 * 60, 600, 500 * 60)
    assert result.ratio == pytest.approx(0.9)


def test_compute_reports_each_monitor_from_its_own_flips() -> None:
    flips = [
        FlipRow("db", "UP", "DOWN", at(60)),
        FlipRow("api", "PENDING", "UP", at(-60)),
        FlipRow("db", "PENDING", "UP", at(-30)),
        FlipRow("db", "DOWN", "UP", at(60 + 7 * 24 * 0.6)),  # down for 1 % of the week
    ]
    kpis = compute_kpis([], [], flips, WEEK, monitors=["api", "cache"])
    assert kpis.availability["api"].ratio == 1.0
    assert kpis.availability["db"].ratio == pytest.approx(0.99)
    assert kpis.availability["cache"].ratio is None
    status = {k.name: k.status for k in kpis.headline if k.name.startswith("availability:")}
    assert status == {
        "availability:api": "met",
        "availability:cache": "no_data",
        "availability:db": "not_met",
    }


def test_the_noisiest_alerts_by_firing_notifications() -> None:
    titles = [
        ("[FIRING:2] HighLatency job=api", 3),
        ("[FIRING:1] HighLatency job=db", 2),
        ("[FIRING] BotDown", 4),
        ("[FIRING:1] DiskFull", 1),
    ]
    kpis = compute_kpis([], [], [], WEEK, notification_titles=titles)
    assert [(n.alertname, n.notifications) for n in kpis.noisiest] == [
        ("HighLatency", 5),
        ("BotDown", 4),
        ("DiskFull", 1),
    ]


@pytest.mark.parametrize(
    ("title", "name"),
    [
        ("[FIRING:3] A b=c", "A"),
        ("[FIRING] B", "B"),
        ("Plain", "Plain"),
        ("[FIRING:1]", "(untitled)"),
    ],
)
def test_alertname_of_a_title(title: str, name: str) -> None:
    assert alertname_of_title(title) == name


def test_a_window_must_be_aware_and_forward() -> None:
    with pytest.raises(ValueError, match="aware"):
        Window(datetime(2026, 1, 1), datetime(2026, 1, 2))  # noqa: DTZ001
    with pytest.raises(ValueError, match="after"):
        Window(T0, T0)
