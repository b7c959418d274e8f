"""Seed 004's weekly health check as a Markdown report, filled from the numbers.

A week is an ISO week (``2026-W48``: Monday 00:00 UTC to the next Monday); the review
lists the week's KPIs against their targets, the monitors' availability, the alerts
(how many, how noisy, how fast answered, which were loudest), the week's incidents with
their times, and the post-mortem action items past due.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from tradewarden.kpis._model import DurationStat, IncidentRow, Kpi, RatioStat, Window
from tradewarden.kpis._service import KpiReport, WindowError

__all__ = ["format_duration", "previous_week", "render_weekly_review", "week_window"]

_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
_LABELS = {
    "mttd": "MTTD (mean time to detect)",
    "mtta": "MTTA (mean time to acknowledge)",
    "mttr": "MTTR (mean time to resolve)",
    "alert_noise": "Alert noise (false positives)",
    "ack_within_5m": "Alerts acknowledged within 5 min",
    "p0p1_resolved_within_2h": "P0/P1 resolved within 2 h",
}
_SIGNS = {"at_most": "≤", "below": "<", "above": ">", "at_least": "≥"}
_STATUS = {"met": "✅ met", "not_met": "❌ not met", "no_data": "— no data"}


def week_window(week: str) -> Window:
    """Return the window of ISO week ``week`` (``2026-W48``); WindowError when invalid."""
    match = _WEEK.match(week.strip())
    if match is None:
        raise WindowError("week", f"{week!r} is not an ISO week such as 2026-W48")
    year, number = int(match.group(1)), int(match.group(2))
    try:
        monday = date.fromisocalendar(year, number, 1)
    except ValueError:
        raise WindowError("week", f"{year} has no week {number}") from None
    start = datetime(monday.year, monday.month, monday.day, tzinfo=UTC)
    return Window(start, start + timedelta(days=7))


def previous_week(now: datetime) -> str:
    """Return the last complete ISO week before ``now`` (the Monday review's week)."""
    year, number, _ = (now.astimezone(UTC) - timedelta(days=7)).isocalendar()
    return f"{year}-W{number:02d}"


def format_duration(seconds: float | None) -> str:
    """Return ``1h 2m 3s`` (``—`` for no value)."""
    if seconds is None:
        return "—"
    whole = round(seconds)
    days, rest = divmod(whole, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{days}d"] if days else []
    parts += [f"{hours}h"] if hours else []
    parts += [f"{minutes}m"] if minutes else []
    parts += [f"{secs}s"] if secs or not parts else []
    return " ".join(parts)


def _pct(ratio: float | None) -> str:
    return "—" if ratio is None else f"{ratio * 100:.2f} %"


def _cell(text: object) -> str:
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _when(moment: datetime | None) -> str:
    return "—" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _value(kpi: Kpi) -> str:
    return format_duration(kpi.value) if kpi.unit == "seconds" else _pct(kpi.value)


def _target(kpi: Kpi) -> str:
    shown = format_duration(kpi.target) if kpi.unit == "seconds" else _pct(kpi.target)
    return f"{_SIGNS[kpi.comparison]} {shown}"


def _ratio_text(stat: RatioStat) -> str:
    return f"{_pct(stat.ratio)} ({stat.numerator} of {stat.denominator})"


def _stat_text(stat: DurationStat) -> str:
    if not stat.count:
        return "no data"
    return (
        f"mean {format_duration(stat.mean_s)}, median {format_duration(stat.median_s)}, "
        f"max {format_duration(stat.max_s)} ({stat.count})"
    )


def _incident_line(incident: IncidentRow) -> str:
    mttr = (
        format_duration((incident.resolved_at - incident.started_at).total_seconds())
        if incident.resolved_at is not None
        else "open"
    )
    cells = [
        incident.public_id,
        incident.severity,
        incident.title + (" (false positive)" if incident.false_positive else ""),
        incident.status,
        _when(incident.impact_started_at),
        _when(incident.detected_at),
        _when(incident.acknowledged_at),
        _when(incident.resolved_at),
        mttr,
    ]
    return "| " + " | ".join(_cell(c) for c in cells) + " |"


def render_weekly_review(report: KpiReport, week: str) -> str:
    """Return the weekly health check of ``week`` as Markdown."""
    kpis = report.kpis
    window = kpis.window
    last_day = (window.end - timedelta(days=1)).date()
    lines = [
        f"# Weekly health check — {week}",
        "",
        (
            f"{window.start.date().isoformat()} to {last_day.isoformat()} (UTC), "
            f"computed {_when(kpis.now)} from tradewarden's own records."
        ),
        "",
        "## KPIs against targets",
        "",
        "| KPI | Value | Target | Samples | Status |",
        "| --- | --- | --- | --- | --- |",
    ]
    for kpi in kpis.headline:
        if kpi.name.startswith("availability:"):
            continue
        label = _LABELS.get(kpi.name, kpi.name)
        lines.append(
            f"| {label} | {_value(kpi)} | {_target(kpi)} | {kpi.samples} | {_STATUS[kpi.status]} |"
        )
    lines += ["", "## Uptime of the monitors", ""]
    monitors = [k for k in kpis.headline if k.name.startswith("availability:")]
    if monitors:
        lines += [
            "| Monitor | Availability | Downtime | Flips | Target | Status |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for kpi in monitors:
            name = kpi.name.removeprefix("availability:")
            a = kpis.availability[name]
            lines.append(
                f"| {_cell(name)} | {_value(kpi)} | {format_duration(a.down_s)} | {a.flips} "
                f"| {_target(kpi)} | {_STATUS[kpi.status]} |"
            )
    else:
        lines.append("No monitors.")
    lines += [
        "",
        "## Alerts",
        "",
        f"- Total alerts triggered (notified alert groups): {kpis.alerts_notified}",
        f"- False positive rate (alert noise): {_ratio_text(kpis.alert_noise)}",
        f"- Acknowledged within 5 minutes: {_ratio_text(kpis.ack_within_5m)}",
        f"- Alert response time (MTTA of incidents): {_stat_text(kpis.mtta['all'])}",
        f"- Unresolved alerts: {kpis.alerts_unresolved}",
        "",
        "### Noisiest alerts",
        "",
    ]
    if kpis.noisiest:
        lines += ["| Alert | Notifications |", "| --- | --- |"]
        lines += [f"| {_cell(n.alertname)} | {n.notifications} |" for n in kpis.noisiest]
    else:
        lines.append("No notifications.")
    counts = kpis.incidents
    by_severity = ", ".join(f"{s}: {n}" for s, n in counts.by_severity.items())
    lines += [
        "",
        "## Incidents",
        "",
        (
            f"{counts.total} incidents ({by_severity}); {counts.open} open, "
            f"{counts.resolved} resolved; false positives: {counts.false_positive}."
        ),
        "",
        f"- MTTD: {_stat_text(kpis.mttd['all'])}",
        f"- MTTA: {_stat_text(kpis.mtta['all'])}",
        f"- MTTR: {_stat_text(kpis.mttr['all'])}",
        "",
    ]
    if report.incidents:
        lines += [
            (
                "| Incident | Severity | Title | Status | Impact started | Detected "
                "| Acknowledged | Resolved | Time to resolve |"
            ),
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        lines += [_incident_line(i) for i in report.incidents]
    else:
        lines.append("No incidents this week.")
    lines += ["", "## Post-mortem action items past due", ""]
    if report.overdue_action_items:
        lines += ["| Incident | # | Item | Owner | Due |", "| --- | --- | --- | --- | --- |"]
        lines += [
            f"| {item.incident} | {item.number} | {_cell(item.title)} | "
            f"{_cell(item.owner or '—')} | {item.due_date} |"
            for item in report.overdue_action_items
        ]
    else:
        lines.append("None.")
    lines += [
        "",
        "## Action items",
        "",
        "- [ ] Document any recurring issues",
        "- [ ] Update alert thresholds if needed (see the noisiest alerts)",
        "- [ ] Schedule infrastructure improvements",
        "",
    ]
    return "\n".join(lines)
