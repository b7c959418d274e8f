"""The KPIs as a pure function of incidents, escalations, flips, a window and ``now``.

Definitions (docs/architecture.md repeats them):

- An incident belongs to the window its impact started in (``impact_started_at``, else
  ``detected_at``, else ``created_at``). Incidents marked false positive count in the
  incident totals and in alert noise, never in MTTD, MTTA, MTTR or the 2-hour share.
- MTTD = ``detected_at - impact_started_at``; MTTA = ``acknowledged_at - notified_at``;
  MTTR = ``resolved_at - impact start``. An incident lacking either time is not a sample
  of that KPI (an open one is counted as open, an unacknowledged one as unacknowledged).
  A negative difference (clocks of two sources) counts as 0.
- P0/P1 resolved within 2 hours: of the P0/P1 incidents, those resolved within 2 hours
  of their impact start, out of those resolved plus those open for longer than 2 hours
  (an incident open for less is undecided and left out).
- An alert is a notified alert group: an escalation row opened in the window (its latest
  generation: a group that fires again after resolving reuses its row). It is
  acknowledged when its escalation or the incident opened from it (same group key) was.
- Alert noise: noisy groups out of decided groups. A group is noisy when it resolved
  without an acknowledgement, or its incident is marked false positive; it is decided
  once it resolved, was acknowledged or was marked. A false-positive incident with no
  group in the window counts as one noisy alert of its own.
- Acknowledged within 5 minutes: groups acknowledged at most 5 minutes after they were
  opened, out of the groups acknowledged, resolved, or open for more than 5 minutes.
- Availability of a monitor: the share of the counted time it was UP or DEGRADED (a
  warning is still service); DOWN counts against it; PENDING, PAUSED, an unknown state
  and the part of the window after ``now`` are not counted. The state at the window's
  start is the newest flip's before it, else the first flip's ``old_state`` in it; no
  counted time at all is "no data", never 100 %.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from tradewarden.kpis._config import KpiTargets
from tradewarden.kpis._model import (
    SEVERITIES,
    Availability,
    DurationStat,
    EscalationRow,
    FlipRow,
    IncidentCounts,
    IncidentRow,
    Kpi,
    Kpis,
    NoisyAlert,
    RatioStat,
    Window,
)

__all__ = ["alertname_of_title", "availability_of", "compute_kpis", "duration_stat"]

AVAILABLE_STATES = frozenset({"UP", "DEGRADED"})
DOWN_STATES = frozenset({"DOWN"})
TWO_HOURS = timedelta(hours=2)
FIVE_MINUTES = timedelta(minutes=5)
NOISIEST_LIMIT = 10


def duration_stat(samples: Sequence[float]) -> DurationStat:
    """Return the count, mean, median and maximum of ``samples`` (seconds)."""
    if not samples:
        return DurationStat()
    return DurationStat(
        count=len(samples),
        mean_s=statistics.fmean(samples),
        median_s=float(statistics.median(samples)),
        max_s=max(samples),
    )


def _seconds(later: datetime, earlier: datetime) -> float:
    return max(0.0, (later - earlier).total_seconds())


def _by_severity(samples: Iterable[tuple[str, float]]) -> dict[str, DurationStat]:
    grouped: dict[str, list[float]] = defaultdict(list)
    every: list[float] = []
    for severity, value in samples:
        grouped[severity].append(value)
        every.append(value)
    stats = {"all": duration_stat(every)}
    for severity in sorted({*SEVERITIES, *grouped}):
        stats[severity] = duration_stat(grouped.get(severity, []))
    return stats


def availability_of(
    monitor: str, flips: Sequence[FlipRow], window: Window, now: datetime
) -> Availability:
    """Return how long ``monitor`` was available, down and not counted in ``window``.

    ``flips`` are the monitor's, in order; those before the window give its state at the
    start (the newest of them).
    """
    end = min(window.end, max(now, window.start))
    before = [f for f in flips if f.at < window.start]
    inside = [f for f in flips if window.start <= f.at < end]
    state: str | None
    if before:
        state = before[-1].new_state
    elif inside:
        state = inside[0].old_state
    else:
        state = None
    totals = {"available": 0.0, "down": 0.0, "excluded": 0.0}

    def _add(until: datetime, since: datetime, current: str | None) -> None:
        seconds = max(0.0, (until - since).total_seconds())
        if current in AVAILABLE_STATES:
            totals["available"] += seconds
        elif current in DOWN_STATES:
            totals["down"] += seconds
        else:
            totals["excluded"] += seconds

    cursor = window.start
    for flip in inside:
        _add(flip.at, cursor, state)
        state, cursor = flip.new_state, flip.at
    _add(end, cursor, state)
    totals["excluded"] += (window.end - end).total_seconds()
    return Availability(
        monitor=monitor,
        available_s=totals["available"],
        down_s=totals["down"],
        excluded_s=totals["excluded"],
        flips=len(inside),
    )


def alertname_of_title(title: str) -> str:
    """Return the alertname of a notification's title (``[FIRING:2] HighLatency job=x``)."""
    rest = title.strip()
    if rest.startswith("["):
        _, _, rest = rest.partition("]")
    words = rest.split()
    return words[0] if words else "(untitled)"


def _noisiest(titles: Iterable[tuple[str, int]], limit: int) -> tuple[NoisyAlert, ...]:
    counts: Counter[str] = Counter()
    for title, count in titles:
        counts[alertname_of_title(title)] += count
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:limit]
    return tuple(NoisyAlert(name, count) for name, count in ranked)


def _incident_counts(incidents: Sequence[IncidentRow]) -> IncidentCounts:
    by_severity = Counter(i.severity for i in incidents)
    return IncidentCounts(
        total=len(incidents),
        open=sum(1 for i in incidents if i.resolved_at is None),
        resolved=sum(1 for i in incidents if i.resolved_at is not None),
        false_positive=sum(1 for i in incidents if i.false_positive),
        unacknowledged=sum(1 for i in incidents if i.acknowledged_at is None),
        by_severity={s: by_severity.get(s, 0) for s in sorted({*SEVERITIES, *by_severity})},
    )


def _within_2h(real: Sequence[IncidentRow], now: datetime) -> RatioStat:
    numerator = denominator = 0
    for incident in real:
        if incident.severity not in {"P0", "P1"}:
            continue
        if incident.resolved_at is not None:
            denominator += 1
            numerator += incident.resolved_at - incident.started_at <= TWO_HOURS
        elif now - incident.started_at > TWO_HOURS:
            denominator += 1
    return RatioStat(numerator, denominator)


def _alert_ratios(
    groups: Sequence[EscalationRow], incidents: Sequence[IncidentRow], now: datetime
) -> tuple[RatioStat, RatioStat]:
    """Return (alert noise, acknowledged within 5 minutes)."""
    by_key: dict[str, list[IncidentRow]] = defaultdict(list)
    for incident in incidents:
        if incident.group_key:
            by_key[incident.group_key].append(incident)
    noisy = decided = fast = answered = 0
    for group in groups:
        linked = by_key.get(group.key, [])
        acks = [group.acknowledged_at] + [i.acknowledged_at for i in linked]
        acked = min((a for a in acks if a is not None), default=None)
        marked = any(i.false_positive for i in linked)
        if marked or group.resolved_at is not None or acked is not None:
            decided += 1
            noisy += marked or acked is None
        if acked is not None:
            answered += 1
            fast += acked - group.opened_at <= FIVE_MINUTES
        elif group.resolved_at is not None or now - group.opened_at > FIVE_MINUTES:
            answered += 1
    keys = {g.key for g in groups}
    unlinked = sum(1 for i in incidents if i.false_positive and i.group_key not in keys)
    return RatioStat(noisy + unlinked, decided + unlinked), RatioStat(fast, answered)


def compute_kpis(
    incidents: Iterable[IncidentRow],
    escalations: Iterable[EscalationRow],
    flips: Iterable[FlipRow],
    window: Window,
    *,
    now: datetime | None = None,
    targets: KpiTargets | None = None,
    notification_titles: Iterable[tuple[str, int]] = (),
    monitors: Iterable[str] = (),
) -> Kpis:
    """Return the KPIs of ``window`` as known at ``now`` (default: the window's end).

    Rows outside the window are ignored (flips before it give the starting state);
    ``notification_titles`` are (title, count) of firing notifications sent in the
    window; ``monitors`` names monitors to report even without a flip ("no data").
    """
    at = now if now is not None else window.end
    goals = targets if targets is not None else KpiTargets()
    ours = [i for i in incidents if i.started_at in window]
    real = [i for i in ours if not i.false_positive]
    mttd = _by_severity(
        (i.severity, _seconds(i.detected_at, i.impact_started_at))
        for i in real
        if i.detected_at is not None and i.impact_started_at is not None
    )
    mtta = _by_severity(
        (i.severity, _seconds(i.acknowledged_at, i.notified_at))
        for i in real
        if i.acknowledged_at is not None and i.notified_at is not None
    )
    mttr = _by_severity(
        (i.severity, _seconds(i.resolved_at, i.started_at))
        for i in real
        if i.resolved_at is not None
    )
    groups = [g for g in escalations if g.opened_at in window]
    noise, fast_ack = _alert_ratios(groups, ours, at)
    within_2h = _within_2h(real, at)
    per_monitor: dict[str, list[FlipRow]] = defaultdict(list)
    for flip in sorted(flips, key=lambda f: f.at):
        if flip.at < window.end:
            per_monitor[flip.monitor].append(flip)
    names = sorted({*per_monitor, *monitors})
    availability = {m: availability_of(m, per_monitor.get(m, []), window, at) for m in names}
    headline = [
        Kpi("mttd", mttd["all"].mean_s, "seconds", goals.mttd_s, "below", mttd["all"].count),
        Kpi("mtta", mtta["all"].mean_s, "seconds", goals.mtta_s, "below", mtta["all"].count),
        Kpi("mttr", mttr["all"].mean_s, "seconds", goals.mttr_s, "below", mttr["all"].count),
        Kpi(
            "alert_noise",
            noise.ratio,
            "ratio",
            goals.alert_noise_ratio,
            "below",
            noise.denominator,
        ),
        Kpi(
            "ack_within_5m",
            fast_ack.ratio,
            "ratio",
            goals.ack_within_5m_ratio,
            "above",
            fast_ack.denominator,
        ),
        Kpi(
            "p0p1_resolved_within_2h",
            within_2h.ratio,
            "ratio",
            goals.p0p1_resolved_within_2h_ratio,
            "above",
            within_2h.denominator,
        ),
    ]
    headline += [
        Kpi(
            f"availability:{name}",
            a.ratio,
            "ratio",
            goals.availability_ratio,
            "at_least",
            a.flips,
        )
        for name, a in availability.items()
    ]
    return Kpis(
        window=window,
        now=at,
        incidents=_incident_counts(ours),
        mttd=mttd,
        mtta=mtta,
        mttr=mttr,
        p0p1_resolved_within_2h=within_2h,
        alert_noise=noise,
        ack_within_5m=fast_ack,
        alerts_notified=len(groups),
        alerts_unresolved=sum(1 for g in groups if g.resolved_at is None),
        availability=availability,
        noisiest=_noisiest(notification_titles, NOISIEST_LIMIT),
        headline=tuple(headline),
    )
