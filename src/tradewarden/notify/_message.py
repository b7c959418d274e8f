"""The channel-neutral notification: what every channel renders in its own way."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

__all__ = ["Message", "MessageStatus", "Severity"]


class Severity(StrEnum):
    """How urgent: P0 critical, P1 high, P2 medium, P3 low."""

    P0 = "P0"
    P1 = "P1"
    P2 = "P2"
    P3 = "P3"

    @property
    def label(self) -> str:
        """Return the word operators read (``critical``, ``high``, ``medium``, ``low``)."""
        return _LABELS[self]

    @property
    def emoji(self) -> str:
        """Return the severity's emoji, as in the seeds' alert examples."""
        return _EMOJI[self]


_LABELS = {Severity.P0: "critical", Severity.P1: "high", Severity.P2: "medium", Severity.P3: "low"}
# As in the seeds' alert examples (seed 004).
_EMOJI = {Severity.P0: "🔴", Severity.P1: "🟡", Severity.P2: "🟢", Severity.P3: "ℹ️"}  # noqa: RUF001


class MessageStatus(StrEnum):
    """What happened to the alert: it fires, it was acknowledged, it resolved."""

    FIRING = "firing"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class Message(BaseModel):
    """One alert event, before any channel renders it.

    ``fingerprint`` identifies the alert across its events (PagerDuty's ``dedup_key``);
    a firing, its acknowledgement and its resolution share it.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    fingerprint: str = Field(min_length=1, max_length=200)
    severity: Severity = Severity.P2
    status: MessageStatus = MessageStatus.FIRING
    title: str = Field(min_length=1, max_length=500)
    summary: str = Field(default="", max_length=2_000)
    description: str = Field(default="", max_length=10_000)
    labels: Mapping[str, str] = Field(default_factory=dict)
    metric: str | None = None
    threshold: str | None = None
    current_value: str | None = None
    started_at: AwareDatetime | None = None
    runbook_url: str | None = None
    dashboard_url: str | None = None
    ack_url: str | None = None
    source: str = Field(default="tradewarden", max_length=100)

    def template_context(self) -> dict[str, Any]:
        """Return what templates see: every field, plus the severity's label and emoji."""
        context = self.model_dump(mode="python")
        context["labels"] = _Labels(self.labels)
        context["severity_label"] = self.severity.label
        context["emoji"] = self.severity.emoji
        context["started_at_iso"] = _iso(self.started_at)
        return context


class _Labels(dict[str, str]):
    """Labels as templates see them: a label the alert does not carry is empty, not an
    error (alerts of one rule differ in their labels)."""

    def __missing__(self, key: str) -> str:
        return ""


def _iso(at: datetime | None) -> str:
    return at.isoformat().replace("+00:00", "Z") if at is not None else ""
