"""What the KPIs are computed from (plain rows) and what they come out as.

The rows are the store's records reduced to the fields a KPI reads, so the computation
is a pure function tests feed with tables. Times are aware UTC datetimes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Literal

__all__ = [
    "SEVERITIES",
    "ActionItemRow",
    "Availability",
    "DurationStat",
    "EscalationRow",
    "FlipRow",
    "IncidentCounts",
    "IncidentRow",
    "Kpi",
    "KpiStatus",
    "Kpis",
    "NoisyAlert",
    "RatioStat",
    "Window",
]

SEVERITIES = ("P0", "P1", "P2", "P3")
KpiStatus = Literal["met", "not_met", "no_data"]


@dataclass(frozen=True)
class Window:
    """The period the KPIs cover: ``start`` inclusive, ``end`` exclusive."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("a KPI window needs aware datetimes")
        if self.end <= self.start:
            raise ValueError("a KPI window ends after it starts")

    def __contains__(self, moment: datetime) -> bool:
        return self.start <= moment < self.end

    @property
    def length(self) -> timedelta:
        """Return how long the window is."""
        return self.end - self.start


@dataclass(frozen=True)
class IncidentRow:
    """An incident's times and flags."""

    public_id: str
    title: str
    severity: str
    status: str
    created_at: datetime
    impact_started_at: datetime | None = None
    detected_at: datetime | None = None
    notified_at: datetime | None = None
    acknowledged_at: datetime | None = None
    resolved_at: datetime | None = None
    false_positive: bool = False
    group_key: str | None = None

    @property
    def started_at(self) -> datetime:
        """Return when the impact began, as well as it is known (the period it belongs to)."""
        return self.impact_started_at or self.detected_at or self.created_at


@dataclass(frozen=True)
class EscalationRow:
    """One notified alert group (its escalation's latest generation)."""

    key: str
    opened_at: datetime
    severity: str = "P2"
    title: str = ""
    acknowledged_at: datetime | None = None
    resolved_at: datetime | None = None


@dataclass(frozen=True)
class FlipRow:
    """A monitor's state change."""

    monitor: str
    old_state: str
    new_state: str
    at: datetime


@dataclass(frozen=True)
class NoisyAlert:
    """An alertname and how many firing notifications it sent in the window."""

    alertname: str
    notifications: int


@dataclass(frozen=True)
class ActionItemRow:
    """A post-mortem action item that is not done."""

    incident: str
    number: int
    title: str
    owner: str | None
    due_date: date | None
    status: str


@dataclass(frozen=True)
class DurationStat:
    """Durations in seconds: how many, their mean, median and maximum (None when none)."""

    count: int = 0
    mean_s: float | None = None
    median_s: float | None = None
    max_s: float | None = None


@dataclass(frozen=True)
class RatioStat:
    """``numerator`` of ``denominator``; ``ratio`` is None when the denominator is 0."""

    numerator: int = 0
    denominator: int = 0

    @property
    def ratio(self) -> float | None:
        """Return the share, or None when there is nothing to share."""
        return self.numerator / self.denominator if self.denominator else None


@dataclass(frozen=True)
class Availability:
    """A monitor's time in the window: available (UP, DEGRADED), down, and not counted
    (PENDING, PAUSED, unknown, or after now)."""

    monitor: str
    available_s: float
    down_s: float
    excluded_s: float
    flips: int

    @property
    def ratio(self) -> float | None:
        """Return the share of the counted time the monitor was available (None: no data)."""
        counted = self.available_s + self.down_s
        return self.available_s / counted if counted > 0 else None


@dataclass(frozen=True)
class IncidentCounts:
    """How many incidents started in the window, and how they stand."""

    total: int = 0
    open: int = 0
    resolved: int = 0
    false_positive: int = 0
    unacknowledged: int = 0
    by_severity: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Kpi:
    """One headline KPI held against its target.

    ``comparison`` says how: ``at_most`` (a time), ``below`` (noise), ``above`` and
    ``at_least`` (shares).
    """

    name: str
    value: float | None
    unit: Literal["seconds", "ratio"]
    target: float
    comparison: Literal["at_most", "below", "above", "at_least"]
    samples: int

    @property
    def status(self) -> KpiStatus:
        """Return whether the target is met, missed, or cannot be told (no samples)."""
        if self.value is None:
            return "no_data"
        met = {
            "at_most": self.value <= self.target,
            "below": self.value < self.target,
            "above": self.value > self.target,
            "at_least": self.value >= self.target,
        }[self.comparison]
        return "met" if met else "not_met"


@dataclass(frozen=True)
class Kpis:
    """Every KPI of a window, computed at ``now``."""

    window: Window
    now: datetime
    incidents: IncidentCounts
    mttd: Mapping[str, DurationStat]  # "all" and each severity
    mtta: Mapping[str, DurationStat]
    mttr: Mapping[str, DurationStat]
    p0p1_resolved_within_2h: RatioStat
    alert_noise: RatioStat
    ack_within_5m: RatioStat
    alerts_notified: int
    alerts_unresolved: int
    availability: Mapping[str, Availability]
    noisiest: tuple[NoisyAlert, ...]
    headline: tuple[Kpi, ...]
