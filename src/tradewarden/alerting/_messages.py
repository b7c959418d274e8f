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
    """Return the labels every alert has with the same value (in the first's order)."""
    shared = set(alerts[0].labels)  # (name, value) pairs
    for alert in alerts:
        if not shared:
            break
        shared.intersection_update(alert.labels)
    return {k: v for k, v in alerts[0].labels if (k, v) in shared}


def _line(alert: Alert, status: str) -> str:
    summary = alert.annotations.get("summary") or alert.annotations.get("description", "")
    labels = ", ".join(f"{k}={v}" for k, v in alert.labels if k != "alertname")
    return f"[{status}] {alert.name or '(no alertname)'} {{{labels}}} {summary}".strip()


_DESCRIPTION_LIMIT = 10_000


def _lines(firing: Sequence[Alert], resolved: Sequence[Alert], *, limit: int) -> list[str]:
    """Return the alerts' lines up to about ``limit`` characters: a group of 10,000 alerts
    is not written out in full to be cut."""
    lines: list[str] = []
    length = 0
    for status, alerts in (("firing", firing), ("resolved", resolved)):
        for alert in alerts:
            if length > limit:
                return lines
            line = _line(alert, status)
            lines.append(line)
            length += len(line) + 1
    return lines


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
    common = _common(alerts)
    name = group_labels.get("alertname") or common.get("alertname") or "alerts"
    rest = " ".join(f"{k}={v}" for k, v in sorted(group_labels.items()) if k != "alertname")
    title = f"[{status.value.upper()}:{len(shown)}] {name} {rest}".strip()
    first = shown[0]
    lines = _lines(firing, resolved, limit=_DESCRIPTION_LIMIT)
    return Message(
        fingerprint=group_key[:200],
        severity=severity,
        status=status,
        title=title[:500],
        summary=(first.annotations.get("summary", "") if len(shown) == 1 else "")[:2_000]
        or f"{len(firing)} firing, {len(resolved)} resolved",
        description="\n".join(lines)[:_DESCRIPTION_LIMIT],
        labels=common,
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
