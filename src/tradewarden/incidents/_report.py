"""The incident report in the seeds' template, rendered as Markdown from the record.

Impact, key times and the durations computed from them, the linked alerts, the whole
timeline, root cause, resolution, prevention (the action items) and lessons learned.
Times are UTC ISO 8601. The template is ``report.md.j2`` in this package.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from functools import cache
from importlib.resources import files

from jinja2 import Environment, StrictUndefined, Template

from tradewarden.incidents._model import Impact, durations
from tradewarden.store import (
    Incident,
    IncidentActionItem,
    IncidentAlert,
    IncidentTimelineEntry,
)

__all__ = ["format_duration", "iso", "render_report"]


def iso(at: datetime | None) -> str:
    """Return ``at`` as UTC ISO 8601 to the second (``2026-12-01T14:30:00Z``), or ``-``."""
    if at is None:
        return "-"
    return at.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def format_duration(seconds: float | None) -> str:
    """Return ``1h 4m 10s`` style text, or ``-`` without a value."""
    if seconds is None:
        return "-"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours}h"] if hours else []
    if hours or minutes:
        parts.append(f"{minutes}m")
    parts.append(f"{secs}s")
    return " ".join(parts)


def _labels(labels: Mapping[str, str]) -> str:
    inner = ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items()) if k != "alertname")
    return "{" + inner + "}"


@cache
def _template() -> Template:
    # Markdown, not HTML: nothing to escape; StrictUndefined so a typo fails loudly.
    environment = Environment(  # noqa: S701 - renders Markdown, never HTML
        undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True
    )
    source = files("tradewarden.incidents").joinpath("report.md.j2").read_text(encoding="utf-8")
    return environment.from_string(source)


def render_report(
    incident: Incident,
    timeline: Sequence[IncidentTimelineEntry],
    alerts: Sequence[IncidentAlert],
    action_items: Sequence[IncidentActionItem],
) -> str:
    """Return the incident report in Markdown."""
    return _template().render(
        incident=incident,
        impact=Impact.model_validate(incident.impact),
        timeline=timeline,
        alerts=alerts,
        action_items=action_items,
        durations=durations(
            impact_started_at=incident.impact_started_at,
            detected_at=incident.detected_at,
            notified_at=incident.notified_at,
            acknowledged_at=incident.acknowledged_at,
            resolved_at=incident.resolved_at,
        ),
        iso=iso,
        duration=format_duration,
        labels=_labels,
    )
