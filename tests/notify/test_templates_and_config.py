"""Message rendering (defaults, overrides) and the channels: section's refusals."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from notify.conftest import message
from tradewarden.config import parse_config_text
from tradewarden.errors import ConfigError
from tradewarden.notify import MessageStatus, Renderer, Severity
from tradewarden.notify.channels import pagerduty_event


@pytest.mark.parametrize(
    ("severity", "title"),
    [
        (Severity.P0, "🔴 CRITICAL: Bot alert-1 stopped trading"),
        (Severity.P1, "🟡 HIGH: Bot alert-1 stopped trading"),
        (Severity.P2, "🟢 MEDIUM: Bot alert-1 stopped trading"),
        (Severity.P3, "ℹ️ LOW: Bot alert-1 stopped trading"),  # noqa: RUF001
    ],
)
def test_the_default_title_carries_the_severity_and_its_emoji(
    severity: Severity, title: str
) -> None:
    assert Renderer().render(message(severity=severity)).title == title


def test_resolved_and_acknowledged_titles() -> None:
    renderer = Renderer()
    resolved = renderer.render(message(status=MessageStatus.RESOLVED))
    acknowledged = renderer.render(message(status=MessageStatus.ACKNOWLEDGED))
    assert resolved.title == "✅ RESOLVED: Bot alert-1 stopped trading"
    assert acknowledged.title == "👀 ACKNOWLEDGED: Bot alert-1 stopped trading"


def test_the_default_body_lists_what_is_known() -> None:
    body = (
        Renderer()
        .render(
            message(
                started_at=datetime(2026, 12, 1, 9, 30, tzinfo=UTC),
                runbook_url="https://rb.example/1",
                ack_url="https://warden.example/ack/1",
            )
        )
        .body
    )
    assert body.splitlines() == [
        "No order for 10 minutes",
        "Severity: P1 high",
        "Started: 2026-12-01T09:30:00Z",
        "Metric: orders_total",
        "Threshold: > 0 per 10m",
        "Current value: 0",
        "Runbook: https://rb.example/1",
        "Acknowledge: https://warden.example/ack/1",
    ]


def test_a_template_sees_labels_and_a_missing_label_is_empty() -> None:
    renderer = Renderer(title="{{ labels.bot }}|{{ labels.absent }}|{{ emoji }}")
    assert renderer.render(message(labels={"bot": "maker"})).title == "maker||🟡"


def test_a_pagerduty_trigger_without_extras_is_minimal_and_valid() -> None:
    event = pagerduty_event(message(metric=None, summary=""), "key", "summary")
    assert event == {
        "routing_key": "key",
        "event_action": "trigger",
        "dedup_key": "alert-1",
        "payload": {
            "summary": "summary",
            "source": "tradewarden",
            "severity": "error",
            "custom_details": {"labels": {}, "threshold": "> 0 per 10m", "current_value": "0"},
        },
        "client": "tradewarden",
    }


def _config(channels: str) -> str:
    return "channels:\n" + channels


@pytest.mark.parametrize(
    ("yaml", "message_part"),
    [
        (
            "  - {name: tg, type: apprise, url: 'tgram://123:abc/1'}\n",
            "url: a channel's url carries its credentials",
        ),
        (
            "  - {name: pd, type: pagerduty, routing_key: abc}\n",
            "routing_key: a channel's routing_key carries its credentials",
        ),
        ("  - {name: tg, type: apprise}\n", "set exactly one of url_env or url_file"),
        (
            "  - {name: tg, type: apprise, url_env: A, url_file: /x}\n",
            "set exactly one of url_env or url_file",
        ),
        ("  - {name: tg, type: carrier-pigeon, url_env: A}\n", "type"),
        (
            "  - {name: tg, type: apprise, url_env: A}\n  - {name: tg, type: slack, url_env: B}\n",
            "channel name 'tg' is used twice",
        ),
        (
            "  - {name: tg, type: apprise, url_env: A, fallback: mail}\n",
            "channel 'tg': fallback 'mail' is not a configured channel",
        ),
        (
            (
                "  - {name: a, type: apprise, url_env: A, fallback: b}\n"
                "  - {name: b, type: apprise, url_env: B, fallback: a}\n"
            ),
            "fallbacks loop (a -> b -> a)",
        ),
        (
            "  - name: a\n    type: slack\n    url_env: A\n    templates: {title: '{{ oops'}\n",
            "channels.0.slack.templates.title: invalid template",
        ),
        (
            "  - {name: a, type: apprise, url_env: A, rate_limit: {per_second: 0}}\n",
            "per_second",
        ),
    ],
)
def test_bad_channels_are_refused_naming_the_field(yaml: str, message_part: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config_text(_config(yaml), source="tw.yaml")
    assert message_part in str(caught.value)
    assert str(caught.value).startswith("tw.yaml:")
    assert "abc" not in str(caught.value)


def test_a_good_channels_section_loads(tmp_path: Path) -> None:
    config = parse_config_text(
        _config(
            "  - name: ops-telegram\n"
            "    type: apprise\n"
            "    url_env: TW_TELEGRAM_URL\n"
            "    fallback: ops-mail\n"
            "    rate_limit: {per_second: 1, burst: 5}\n"
            "    retry: {initial_backoff_s: 2, deadline_s: 900}\n"
            f"  - {{name: ops-mail, type: apprise, url_file: {tmp_path}/mail-url}}\n"
            "  - {name: pager, type: pagerduty, routing_key_env: TW_PD_KEY}\n"
            "  - {name: slack, type: slack, url_env: TW_SLACK_WEBHOOK}\n"
        )
    )
    names = [channel.name for channel in config.channels]
    assert names == ["ops-telegram", "ops-mail", "pager", "slack"]
    assert config.channels[0].retry.deadline_s == 900
    assert str(config.channels[2].url) == "https://events.pagerduty.com/v2/enqueue"
