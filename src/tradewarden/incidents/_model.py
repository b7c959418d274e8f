"""The incident's pure parts: statuses and their transitions, timeline kinds, ids, impact.

Statuses follow the seeds' template: investigating → identified → monitoring →
resolved. Among the three open statuses any move is allowed (a fix that did not hold
sends ``monitoring`` back to ``investigating``); ``resolved`` is final. There is no
reopen: an alert of the same group firing after the resolve opens a new incident, so a
resolved incident's times (and the KPIs drawn from them) never change afterwards.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from tradewarden.errors import ConflictError
from tradewarden.notify import Severity

__all__ = [
    "OPEN_STATUSES",
    "Impact",
    "Kind",
    "Status",
    "TransitionError",
    "allowed_transitions",
    "check_transition",
    "durations",
    "most_severe",
    "public_id",
    "services_and_bots",
]


class Status(StrEnum):
    """Where an incident stands."""

    INVESTIGATING = "investigating"
    IDENTIFIED = "identified"
    MONITORING = "monitoring"
    RESOLVED = "resolved"


OPEN_STATUSES = (Status.INVESTIGATING, Status.IDENTIFIED, Status.MONITORING)


class Kind(StrEnum):
    """What a timeline entry records."""

    OPENED = "opened"
    ALERT_FIRED = "alert_fired"
    ALERT_RESOLVED = "alert_resolved"
    NOTIFIED = "notified"
    ACKNOWLEDGED = "acknowledged"
    ESCALATED = "escalated"
    STATUS_CHANGED = "status_changed"
    NOTE = "note"
    RUNBOOK_STEP = "runbook_step"
    CONTROL = "control"
    RESOLVED = "resolved"
    FIELD_CHANGED = "field_changed"


class TransitionError(ConflictError):
    """The incident cannot move to that status from where it is (HTTP 409)."""


def allowed_transitions(status: Status) -> frozenset[Status]:
    """Return the statuses ``status`` may move to."""
    if status is Status.RESOLVED:
        return frozenset()
    return frozenset(s for s in Status if s is not status)


def check_transition(old: Status, new: Status) -> None:
    """Raise TransitionError unless ``old`` may move to ``new``."""
    if new not in allowed_transitions(old):
        if old is Status.RESOLVED:
            raise TransitionError(f"the incident is resolved: it cannot move to {new.value}")
        raise TransitionError(f"the incident is {old.value} already")


def public_id(year: int, number: int) -> str:
    """Return the id operators read: ``INC-2026-0042``."""
    return f"INC-{year}-{number:04d}"


def most_severe(severities: Iterable[Severity]) -> Severity:
    """Return the most urgent severity (P0 before P1 ...); ValueError for none."""
    return min(severities, key=lambda s: s.value)


class Impact(BaseModel):
    """Who and what an incident hurts (the seeds' template: users, functionality, revenue)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    users: int | None = Field(default=None, ge=0, description="How many users are affected.")
    functionality: str | None = Field(default=None, max_length=2000)
    money_at_risk: float | None = Field(
        default=None, ge=0, description="Funds or revenue at risk, in the bots' quote currency."
    )


_SERVICE_LABELS = ("service", "monitor")
_BOT_LABELS = ("bot", "bot_name")


def services_and_bots(labels: Sequence[Mapping[str, str]]) -> tuple[list[str], list[str]]:
    """Return the services (``service``/``monitor`` labels) and bots (``bot``/``bot_name``)
    the alerts name, each sorted and once."""
    services = {lab[n] for lab in labels for n in _SERVICE_LABELS if lab.get(n)}
    bots = {lab[n] for lab in labels for n in _BOT_LABELS if lab.get(n)}
    return sorted(services), sorted(bots)


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return max(0.0, (end - start).total_seconds())


def durations(
    *,
    impact_started_at: datetime | None,
    detected_at: datetime | None,
    notified_at: datetime | None,
    acknowledged_at: datetime | None,
    resolved_at: datetime | None,
) -> dict[str, float | None]:
    """Return the KPIs' parts in seconds (None where a time is missing): time to detect
    (impact start → detected), to acknowledge (notified → acknowledged) and to resolve
    (impact start → resolved)."""
    return {
        "time_to_detect_s": _seconds(impact_started_at, detected_at),
        "time_to_acknowledge_s": _seconds(notified_at, acknowledged_at),
        "time_to_resolve_s": _seconds(impact_started_at, resolved_at),
    }
