"""Slack incoming webhooks with Block Kit: severity, time, summary, metric, threshold,
current value, and runbook, dashboard and acknowledge buttons (as seed 004 lays out).

Written here rather than through Apprise: Apprise's Slack plugin sends its own layout (or
a template file per URL), not blocks the caller builds, and it reports neither the HTTP
status nor a ``Retry-After``.
"""

from __future__ import annotations

from typing import Any

from tradewarden.notify._message import Message, MessageStatus
from tradewarden.notify._outcome import SendResult
from tradewarden.notify._templates import Renderer
from tradewarden.notify.channels._base import ChannelSecret, HttpPoster
from tradewarden.probes._secrets import check_url

__all__ = ["SlackChannel", "slack_blocks"]

_HEADER_MAX = 150  # Slack's limit for a header block's text
_SECTION_MAX = 3000


def _field(name: str, value: str) -> dict[str, str]:
    return {"type": "mrkdwn", "text": f"*{name}:*\n{value}"}


def _button(text: str, url: str, *, primary: bool = False) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "text": {"type": "plain_text", "text": text, "emoji": True},
        "url": url,
    }
    if primary:
        button["style"] = "primary"
    return button


def slack_blocks(message: Message, title: str, summary: str) -> list[dict[str, Any]]:
    """Return the Block Kit blocks of ``message`` with its rendered title and summary."""
    time = message.template_context()["started_at_iso"] or "unknown"
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": title[:_HEADER_MAX], "emoji": True},
        },
        {
            "type": "section",
            "fields": [
                _field(
                    "Severity",
                    f"{message.severity.emoji} {message.severity.value}"
                    f" {message.severity.label.upper()}",
                ),
                _field("Time", time),
            ],
        },
    ]
    if summary:
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": summary[:_SECTION_MAX]}}
        )
    if message.metric:
        blocks.append(
            {
                "type": "section",
                "fields": [
                    _field("Metric", message.metric),
                    _field("Threshold", message.threshold or "n/a"),
                    _field("Current Value", message.current_value or "n/a"),
                ],
            }
        )
    buttons: list[dict[str, Any]] = []
    if message.runbook_url:
        buttons.append(_button("Runbook", message.runbook_url, primary=True))
    if message.dashboard_url:
        buttons.append(_button("Dashboard", message.dashboard_url))
    if message.ack_url and message.status is MessageStatus.FIRING:
        buttons.append(_button("Acknowledge", message.ack_url))
    if buttons:
        blocks.append({"type": "actions", "elements": buttons})
    return blocks


class SlackChannel:
    """POST Block Kit messages to a Slack incoming webhook."""

    def __init__(
        self, name: str, secret: ChannelSecret, renderer: Renderer, http: HttpPoster
    ) -> None:
        self.name = name
        self._secret = secret
        self._renderer = renderer
        self._http = http

    @staticmethod
    def url_problem(url: str) -> str | None:
        """Return what is wrong with a webhook URL, without quoting it."""
        return check_url(url, frozenset({"https", "http"}), "http(s)")

    async def send(self, message: Message, *, timeout_s: float) -> SendResult:
        """Post the message once."""
        try:
            url = self._secret.read()
        except ValueError as exc:
            return SendResult.permanent(str(exc))
        rendered = self._renderer.render(message)
        summary = message.summary or rendered.body
        body = {"text": rendered.title, "blocks": slack_blocks(message, rendered.title, summary)}
        result, _ = await self._http.post_json(url, body, timeout_s=timeout_s, what="Slack")
        return result

    async def aclose(self) -> None:
        """Nothing of its own to close (the HTTP session is shared)."""
