"""PagerDuty Events API v2: trigger, acknowledge and resolve an incident by ``dedup_key``.

Written here because Apprise's PagerDuty plugin only triggers. The message's fingerprint
is the ``dedup_key``, so the firing, its acknowledgement and its resolution reach the one
incident. The routing key is the secret; the events URL is not.
"""

from __future__ import annotations

from typing import Any

from tradewarden.notify._message import Message, MessageStatus, Severity
from tradewarden.notify._outcome import SendResult
from tradewarden.notify._templates import Renderer
from tradewarden.notify.channels._base import ChannelSecret, HttpPoster

__all__ = ["PagerDutyChannel", "pagerduty_event"]

_SEVERITY = {
    Severity.P0: "critical",
    Severity.P1: "error",
    Severity.P2: "warning",
    Severity.P3: "info",
}
_ACTION = {
    MessageStatus.FIRING: "trigger",
    MessageStatus.ACKNOWLEDGED: "acknowledge",
    MessageStatus.RESOLVED: "resolve",
}
_SUMMARY_MAX = 1024  # PagerDuty truncates past this
_DEDUP_MAX = 255


def pagerduty_event(message: Message, routing_key: str, summary: str) -> dict[str, Any]:
    """Return the Events v2 body for ``message``."""
    event: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": _ACTION[message.status],
        "dedup_key": message.fingerprint[:_DEDUP_MAX],
    }
    if message.status is not MessageStatus.FIRING:
        return event  # acknowledge and resolve carry only the key
    details: dict[str, Any] = {"labels": dict(message.labels)}
    for name in ("description", "metric", "threshold", "current_value"):
        value = getattr(message, name)
        if value:
            details[name] = value
    payload: dict[str, Any] = {
        "summary": summary[:_SUMMARY_MAX],
        "source": message.source,
        "severity": _SEVERITY[message.severity],
        "custom_details": details,
    }
    if message.started_at is not None:
        payload["timestamp"] = message.started_at.isoformat()
    event["payload"] = payload
    event["client"] = "tradewarden"
    if message.dashboard_url:
        event["client_url"] = message.dashboard_url
    links = [
        {"href": url, "text": text}
        for url, text in ((message.runbook_url, "Runbook"), (message.dashboard_url, "Dashboard"))
        if url
    ]
    if links:
        event["links"] = links
    return event


class PagerDutyChannel:
    """Send Events v2 to PagerDuty (or a compatible endpoint)."""

    def __init__(
        self, name: str, url: str, key: ChannelSecret, renderer: Renderer, http: HttpPoster
    ) -> None:
        self.name = name
        self._url = url
        self._key = key
        self._renderer = renderer
        self._http = http

    async def send(self, message: Message, *, timeout_s: float) -> SendResult:
        """Post one event."""
        try:
            routing_key = self._key.read()
        except ValueError as exc:
            return SendResult.permanent(str(exc))
        summary = self._renderer.render(message).title
        event = pagerduty_event(message, routing_key, summary)
        result, _ = await self._http.post_json(
            self._url, event, timeout_s=timeout_s, what="PagerDuty"
        )
        return result

    async def aclose(self) -> None:
        """Nothing of its own to close (the HTTP session is shared)."""
