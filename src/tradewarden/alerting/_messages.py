"""The notify helper's ``Message`` of a flush: one per group, or one per alert.

A group's message is titled as Alertmanager's default (``[FIRING:2] HighLatency``),
carries the most urgent severity of its alerts, the labels they share, and one line per
alert; it is identified by the group key, so its firing and resolution pair up. Channels
that track alerts one by one (PagerDuty's ``dedup_key``) get one message per alert.
"""

from __future__ import annotations

from collections.abc import Sequence

from tradewarden.alerting._model import Alert
from tradewarden.alerting._severity import severity_of
from tradewarden.clock import utc_datetime
from tradewarden.notify import Message, MessageStatus

__all__ = ["alert_message", "group_message"]


def _common(alerts: Sequence[Alert]) -> dict[str, str]:
    first = dict(alerts[0].labels)
    return {k: v for k, v in first.items() if all(a.labels.get(k, "\0") == v for a in alerts)}


def _line(alert: Alert, status: str) -> str:
    summary = alert.annotations.get("summary") or alert.annotations.get("description", "")
    labels = ", ".join(f"{k}={v}" for k, v in alert.labels if k != "alertname")
    return f"[{status}] {alert.name or '(no alertname)'} {{{labels}}} {summary}".strip()


def group_message(
    group_key: str,
    group_labels: dict[str, str],
    firing: Sequence[Alert],
    resolved: Sequence[Alert],
) -> Message:
    """Return the message of a group's flush (``firing`` or ``resolved`` is non-empty)."""
    alerts = [*firing, *resolved]
    severity = min((severity_of(a.labels) for a in alerts), key=lambda s: s.value)
    status = MessageStatus.FIRING if firing else MessageStatus.RESOLVED
    shown = firing or resolved
    name = group_labels.get("alertname") or _common(alerts).get("alertname") or "alerts"
    rest = " ".join(f"{k}={v}" for k, v in sorted(group_labels.items()) if k != "alertname")
    title = f"[{status.value.upper()}:{len(shown)}] {name} {rest}".strip()
    first = shown[0]
    lines = [_line(a, "firing") for a in firing] + [_line(a, "resolved") for a in resolved]
    return Message(
        fingerprint=group_key[:200],
        severity=severity,
        status=status,
        title=title[:500],
        summary=(first.annotations.get("summary", "") if len(shown) == 1 else "")[:2_000]
        or f"{len(firing)} firing, {len(resolved)} resolved",
        description="\n".join(lines)[:10_000],
        labels=_common(alerts),
        started_at=utc_datetime(min(a.starts_at_ms for a in alerts) / 1000),
        **_details(first if len(shown) == 1 else None),
    )


def alert_message(alert: Alert, *, resolved: bool) -> Message:
    """Return the message of one alert's firing or resolution."""
    status = MessageStatus.RESOLVED if resolved else MessageStatus.FIRING
    return Message(
        fingerprint=alert.fingerprint,
        severity=severity_of(alert.labels),
        status=status,
        title=f"[{status.value.upper()}] {alert.name or 'alert'}"[:500],
        summary=alert.annotations.get("summary", "")[:2_000],
        description=alert.annotations.get("description", "")[:10_000],
        labels=dict(alert.labels),
        started_at=utc_datetime(alert.starts_at_ms / 1000),
        **_details(alert),
    )


def _details(alert: Alert | None) -> dict[str, str | None]:
    if alert is None:
        return {}
    a = alert.annotations
    return {
        "metric": a.get("metric"),
        "threshold": a.get("threshold"),
        "current_value": a.get("value") or a.get("current_value"),
        "runbook_url": a.get("runbook_url") or a.get("runbook") or None,
        "dashboard_url": a.get("dashboard_url") or a.get("dashboard") or None,
        "source": alert.source.value,
    }
