"""The channels against real peers: Apprise's own plugins pointed at loopback servers that
speak each service's wire format, an aiosmtpd server, and the channels written here."""

from __future__ import annotations

import base64
import logging
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from notify.conftest import PD_KEY, message
from support.notify_wire import WireServer
from support.smtp_server import SmtpServer
from tradewarden.clock import ManualClock
from tradewarden.errors import ConfigError
from tradewarden.notify import (
    AppriseChannelConfig,
    ChannelConfig,
    MessageStatus,
    Outcome,
    PagerDutyChannelConfig,
    SecretScrubber,
    SendResult,
    Severity,
    SlackChannelConfig,
    TemplatesConfig,
)
from tradewarden.notify.channels import Channel, HttpPoster, build_channels

BOT_TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
SLACK_PATH = "T1JJ3T3L2/B1BRTD4JD/TIiajkdnlazkcOXrIdevi7"
TWILIO_SID = "AC" + "0123456789abcdef" * 2
TWILIO_TOKEN = "f3c9e0b1d2a4c6e8f0a1b3c5d7e9f1a3"


@pytest.fixture
def point_apprise_at(wire: WireServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point Apprise's Telegram, Slack, Discord and Twilio plugins at the loopback server.

    These plugins build their service's https URL from a class attribute and accept no
    host of their own; the attribute is the override (the ``json://`` and ``form://``
    plugins and ``mailto://`` take a loopback host as they are).
    """
    from apprise.plugins.discord import NotifyDiscord
    from apprise.plugins.slack import NotifySlack
    from apprise.plugins.telegram import NotifyTelegram
    from apprise.plugins.twilio import NotifyTwilio

    monkeypatch.setattr(NotifyTelegram, "notify_url", f"{wire.url}/bot")
    monkeypatch.setattr(NotifySlack, "webhook_url", f"{wire.url}/services")
    monkeypatch.setattr(NotifyDiscord, "notify_url", f"{wire.url}/api/webhooks")
    base = f"{wire.url}/2010-04-01/Accounts/{{sid}}"
    monkeypatch.setattr(NotifyTwilio, "notify_sms_url", f"{base}/Messages.json")
    monkeypatch.setattr(NotifyTwilio, "notify_call_url", f"{base}/Calls.json")


class Builder:
    """Build channels over one scrubber and HTTP session."""

    def __init__(self, clock: ManualClock) -> None:
        self.scrubber = SecretScrubber()
        self.http = HttpPoster(clock, self.scrubber)
        self._clock = clock
        self.built: list[Channel] = []

    def __call__(self, configs: Sequence[ChannelConfig]) -> dict[str, Channel]:
        channels = build_channels(
            configs, clock=self._clock, scrubber=self.scrubber, http=self.http
        )
        self.built.extend(channels.values())
        return channels


@pytest.fixture
async def channels_for(clock: ManualClock) -> AsyncIterator[Builder]:
    """Return a builder of channels; their HTTP session is closed at the end."""
    builder = Builder(clock)
    yield builder
    for channel in builder.built:
        await channel.aclose()
    await builder.http.aclose()


def _apprise(name: str, env: str, **extra: object) -> AppriseChannelConfig:
    return AppriseChannelConfig(type="apprise", name=name, url_env=env, **extra)


async def _send(channels_for: Builder, config: ChannelConfig, **fields: Any) -> SendResult:
    channel = channels_for([config])[config.name]
    return await channel.send(message(**fields), timeout_s=5)


@pytest.mark.usefixtures("point_apprise_at")
async def test_telegram_through_apprise_posts_send_message(
    wire: WireServer, channels_for: Builder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TW_TEST_TG", f"tgram://{BOT_TOKEN}/987654321")
    result = await _send(channels_for, _apprise("tg", "TW_TEST_TG"), severity=Severity.P0)
    assert result.outcome is Outcome.OK
    (request,) = wire.of("telegram")
    assert request.path == f"/bot{BOT_TOKEN}/sendMessage"
    assert str(request.body["chat_id"]) == "987654321"
    assert "🔴 CRITICAL: Bot alert-1 stopped trading" in request.body["text"]
    assert "Current value: 0" in request.body["text"]


@pytest.mark.usefixtures("point_apprise_at")
async def test_slack_through_apprise_posts_to_the_webhook(
    wire: WireServer, channels_for: Builder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TW_TEST_SLACK", f"slack://{SLACK_PATH}")
    result = await _send(channels_for, _apprise("slack", "TW_TEST_SLACK"))
    assert result.outcome is Outcome.OK
    (request,) = wire.of("slack")
    assert request.path == f"/services/{SLACK_PATH}"
    assert "stopped trading" in str(request.body)


@pytest.mark.usefixtures("point_apprise_at")
async def test_discord_through_apprise_posts_to_the_webhook(
    wire: WireServer, channels_for: Builder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "TW_TEST_DISCORD",
        "discord://417429632418316298/JHZ7lQml277CDHmQKMHI8qBe7bk2ZwO5UKjCiOAF7711o33MyqU344Qpgv7YTpadV_js",
    )
    result = await _send(channels_for, _apprise("discord", "TW_TEST_DISCORD"))
    assert result.outcome is Outcome.OK
    (request,) = wire.of("discord")
    assert request.path.startswith("/api/webhooks/417429632418316298/")
    assert "stopped trading" in str(request.body)


@pytest.mark.usefixtures("point_apprise_at")
@pytest.mark.parametrize(("method", "resource"), [("sms", "Messages.json"), ("call", "Calls.json")])
async def test_twilio_sms_and_calls_through_apprise(
    wire: WireServer,
    channels_for: Builder,
    monkeypatch: pytest.MonkeyPatch,
    method: str,
    resource: str,
) -> None:
    url = f"twilio://{TWILIO_SID}:{TWILIO_TOKEN}@15551234567/15557654321?method={method}"
    monkeypatch.setenv("TW_TEST_TWILIO", url)
    result = await _send(channels_for, _apprise("phone", "TW_TEST_TWILIO"))
    assert result.outcome is Outcome.OK
    (request,) = wire.of("twilio")
    assert request.path == f"/2010-04-01/Accounts/{TWILIO_SID}/{resource}"
    assert request.body["To"] == "+15557654321"
    assert request.body["From"] == "+15551234567"
    expected = base64.b64encode(f"{TWILIO_SID}:{TWILIO_TOKEN}".encode()).decode()
    assert request.headers["Authorization"] == f"Basic {expected}"
    if method == "call":
        assert "stopped trading" in request.body["Twiml"]
    else:
        assert "stopped trading" in request.body["Body"]


@pytest.mark.parametrize("scheme", ["json", "form"])
async def test_generic_webhooks_through_apprise(
    wire: WireServer, channels_for: Builder, monkeypatch: pytest.MonkeyPatch, scheme: str
) -> None:
    monkeypatch.setenv("TW_TEST_HOOK", f"{scheme}://127.0.0.1:{wire.port}/alerts")
    result = await _send(
        channels_for, _apprise("hook", "TW_TEST_HOOK"), status=MessageStatus.RESOLVED
    )
    assert result.outcome is Outcome.OK
    (request,) = wire.of("webhook")
    assert request.path == "/alerts"
    assert request.body["title"] == "✅ RESOLVED: Bot alert-1 stopped trading"
    assert request.body["type"] == "success"


async def test_email_through_apprise_reaches_a_real_smtp_server(
    channels_for: Builder, monkeypatch: pytest.MonkeyPatch
) -> None:
    with SmtpServer() as smtp:
        url = (
            f"mailto://127.0.0.1:{smtp.port}?from=warden@example.com&to=ops@example.com"
            "&mode=insecure"
        )
        monkeypatch.setenv("TW_TEST_MAIL", url)
        result = await _send(channels_for, _apprise("mail", "TW_TEST_MAIL"))
        assert result.outcome is Outcome.OK
        (mail,) = smtp.received
    assert mail.rcpt_tos == ("ops@example.com",)
    assert "stopped trading" in str(mail.message["Subject"])
    assert mail.message["Subject"] == "🟡 HIGH: Bot alert-1 stopped trading"
    text = mail.message.get_body(preferencelist=("plain", "html"))
    assert text is not None
    assert "Metric: orders_total" in text.get_content()


async def test_an_unreachable_smtp_server_is_a_transient_failure(
    channels_for: Builder, monkeypatch: pytest.MonkeyPatch
) -> None:
    from support.net import free_port

    url = f"mailto://127.0.0.1:{free_port()}?from=w@example.com&to=o@example.com&mode=insecure"
    monkeypatch.setenv("TW_TEST_MAIL", url)
    result = await _send(channels_for, _apprise("mail", "TW_TEST_MAIL"))
    assert result.outcome is Outcome.TRANSIENT


@pytest.mark.usefixtures("point_apprise_at")
@pytest.mark.parametrize(
    ("status", "outcome", "retry_after"),
    [
        (429, Outcome.TRANSIENT, 7.0),
        (503, Outcome.TRANSIENT, 7.0),
        (400, Outcome.PERMANENT, None),
        (403, Outcome.PERMANENT, None),
    ],
)
async def test_apprise_failures_are_classified_by_the_http_answer(  # noqa: PLR0917 - fixtures and parameters
    wire: WireServer,
    channels_for: Builder,
    monkeypatch: pytest.MonkeyPatch,
    status: int,
    outcome: Outcome,
    retry_after: float | None,
) -> None:
    monkeypatch.setenv("TW_TEST_TG", f"tgram://{BOT_TOKEN}/987654321")
    wire.fail("telegram", status, headers={"Retry-After": "7"})
    result = await _send(channels_for, _apprise("tg", "TW_TEST_TG"))
    assert (result.outcome, result.retry_after_s, result.status_code) == (
        outcome,
        retry_after,
        status,
    )


@pytest.mark.usefixtures("point_apprise_at")
async def test_telegrams_retry_after_in_the_body_is_honoured(
    wire: WireServer, channels_for: Builder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TW_TEST_TG", f"tgram://{BOT_TOKEN}/987654321")
    wire.fail("telegram", 429)  # {"parameters": {"retry_after": 3}}, no header
    result = await _send(channels_for, _apprise("tg", "TW_TEST_TG"))
    assert (result.outcome, result.retry_after_s) == (Outcome.TRANSIENT, 3.0)


async def test_slack_block_kit_message_has_the_seeds_fields_and_buttons(
    wire: WireServer, channels_for: Builder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TW_TEST_SLACK", f"{wire.url}/services/{SLACK_PATH}")
    config = SlackChannelConfig(type="slack", name="slack", url_env="TW_TEST_SLACK")
    result = await _send(
        channels_for,
        config,
        severity=Severity.P0,
        started_at=datetime(2026, 12, 1, 12, 0, tzinfo=UTC),
        runbook_url="https://runbooks.example/bot-stopped",
        dashboard_url="https://grafana.example/d/bots",
        ack_url="https://warden.example/ack/abc",
    )
    assert result.outcome is Outcome.OK
    body = wire.of("slack")[0].body
    assert body["text"] == "🔴 CRITICAL: Bot alert-1 stopped trading"
    blocks = body["blocks"]
    assert [block["type"] for block in blocks] == [
        "header",
        "section",
        "section",
        "section",
        "actions",
    ]
    assert blocks[0]["text"] == {
        "type": "plain_text",
        "text": "🔴 CRITICAL: Bot alert-1 stopped trading",
        "emoji": True,
    }
    assert [f["text"] for f in blocks[1]["fields"]] == [
        "*Severity:*\n🔴 P0 CRITICAL",
        "*Time:*\n2026-12-01T12:00:00Z",
    ]
    assert blocks[2]["text"]["text"] == "No order for 10 minutes"
    assert [f["text"] for f in blocks[3]["fields"]] == [
        "*Metric:*\norders_total",
        "*Threshold:*\n> 0 per 10m",
        "*Current Value:*\n0",
    ]
    buttons = blocks[4]["elements"]
    assert [(b["text"]["text"], b["url"]) for b in buttons] == [
        ("Runbook", "https://runbooks.example/bot-stopped"),
        ("Dashboard", "https://grafana.example/d/bots"),
        ("Acknowledge", "https://warden.example/ack/abc"),
    ]
    assert buttons[0]["style"] == "primary"


async def test_slack_templates_are_overridable_per_channel(
    wire: WireServer, channels_for: Builder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TW_TEST_SLACK", f"{wire.url}/services/{SLACK_PATH}")
    config = SlackChannelConfig(
        type="slack",
        name="slack",
        url_env="TW_TEST_SLACK",
        templates=TemplatesConfig(title="[{{ severity }}] {{ title }} ({{ labels.bot }})"),
    )
    await _send(channels_for, config, labels={"bot": "maker-1"})
    assert wire.of("slack")[0].body["text"] == "[P1] Bot alert-1 stopped trading (maker-1)"


@pytest.mark.parametrize(
    ("status", "outcome"), [(404, Outcome.PERMANENT), (429, Outcome.TRANSIENT)]
)
async def test_slack_errors_are_classified(
    wire: WireServer,
    channels_for: Builder,
    monkeypatch: pytest.MonkeyPatch,
    status: int,
    outcome: Outcome,
) -> None:
    monkeypatch.setenv("TW_TEST_SLACK", f"{wire.url}/services/{SLACK_PATH}")
    wire.fail("slack", status, headers={"Retry-After": "12"})
    config = SlackChannelConfig(type="slack", name="slack", url_env="TW_TEST_SLACK")
    result = await _send(channels_for, config)
    assert result.outcome is outcome
    assert SLACK_PATH.rsplit("/", maxsplit=1)[-1] not in (result.error or "")


def _pagerduty(wire: WireServer) -> PagerDutyChannelConfig:
    return PagerDutyChannelConfig(
        type="pagerduty",
        name="pager",
        routing_key_env="TW_TEST_PD_KEY",
        url=f"{wire.url}/v2/enqueue",
    )


async def test_pagerduty_triggers_acknowledges_and_resolves_one_incident(
    wire: WireServer, channels_for: Builder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TW_TEST_PD_KEY", PD_KEY)
    channel = channels_for([_pagerduty(wire)])["pager"]
    for status in (MessageStatus.FIRING, MessageStatus.ACKNOWLEDGED, MessageStatus.RESOLVED):
        result = await channel.send(
            message(status=status, severity=Severity.P0, runbook_url="https://rb.example/x"),
            timeout_s=5,
        )
        assert (result.outcome, result.status_code) == (Outcome.OK, 202)
    trigger, ack, resolve = (request.body for request in wire.of("pagerduty"))
    assert trigger["event_action"] == "trigger"
    assert trigger["payload"]["severity"] == "critical"
    assert trigger["payload"]["summary"] == "🔴 CRITICAL: Bot alert-1 stopped trading"
    assert trigger["payload"]["custom_details"]["metric"] == "orders_total"
    assert trigger["links"] == [{"href": "https://rb.example/x", "text": "Runbook"}]
    assert ack == {"routing_key": PD_KEY, "event_action": "acknowledge", "dedup_key": "alert-1"}
    assert resolve == {"routing_key": PD_KEY, "event_action": "resolve", "dedup_key": "alert-1"}


async def test_pagerduty_refusing_an_event_is_permanent_and_the_key_is_not_in_the_error(
    wire: WireServer, channels_for: Builder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TW_TEST_PD_KEY", PD_KEY)
    wire.fail("pagerduty", 400)
    result = await _send(channels_for, _pagerduty(wire))
    assert result.outcome is Outcome.PERMANENT
    assert "HTTP 400" in (result.error or "")
    assert PD_KEY not in (result.error or "")


async def test_a_channel_whose_secret_is_missing_refuses_to_start(
    channels_for: Builder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TW_TEST_NOPE", raising=False)
    with pytest.raises(ConfigError, match=r"channel 'tg'.*TW_TEST_NOPE.*not set"):
        channels_for([_apprise("tg", "TW_TEST_NOPE")])


async def test_an_invalid_apprise_url_refuses_to_start_without_quoting_it(
    channels_for: Builder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TW_TEST_BAD", "nosuchservice://s3cr3tT0kenValue")
    with pytest.raises(ConfigError, match="not a valid Apprise URL") as caught:
        channels_for([_apprise("bad", "TW_TEST_BAD")])
    assert "s3cr3tT0kenValue" not in str(caught.value)


@pytest.mark.usefixtures("point_apprise_at")
async def test_a_rotated_url_is_checked_and_used_at_the_next_send(
    wire: WireServer, channels_for: Builder, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The URL is read at every send; its check is remembered for that value only.
    monkeypatch.setenv("TW_TEST_TG", f"tgram://{BOT_TOKEN}/987654321")
    channel = channels_for([_apprise("tg", "TW_TEST_TG")])["tg"]
    assert (await channel.send(message(), timeout_s=5)).outcome is Outcome.OK
    assert (await channel.send(message(), timeout_s=5)).outcome is Outcome.OK
    monkeypatch.setenv("TW_TEST_TG", "nosuchservice://rotatedBadValue")
    bad = await channel.send(message(), timeout_s=5)
    assert bad.outcome is Outcome.PERMANENT
    assert "not a valid Apprise URL" in (bad.error or "")
    assert "rotatedBadValue" not in (bad.error or "")
    monkeypatch.setenv("TW_TEST_TG", f"tgram://{BOT_TOKEN}/111222333")
    assert (await channel.send(message(), timeout_s=5)).outcome is Outcome.OK
    chats = [str(request.body["chat_id"]) for request in wire.of("telegram")]
    assert chats == ["987654321", "987654321", "111222333"]


@pytest.mark.usefixtures("point_apprise_at")
async def test_secrets_stay_out_of_logs_and_errors(
    wire: WireServer,
    channels_for: Builder,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from tradewarden.notify._redact import install_log_filter, remove_log_filter

    scrubber = channels_for.scrubber
    install_log_filter(scrubber)
    try:
        caplog.set_level(logging.DEBUG)
        monkeypatch.setenv("TW_TEST_TG", f"tgram://{BOT_TOKEN}/987654321")
        wire.fail("telegram", 500)
        failed = await _send(channels_for, _apprise("tg", "TW_TEST_TG"))
        ok = await _send(channels_for, _apprise("tg2", "TW_TEST_TG"))
    finally:
        remove_log_filter(scrubber)
    assert failed.outcome is Outcome.TRANSIENT
    assert ok.outcome is Outcome.OK
    assert caplog.records  # Apprise and urllib3 did log, at debug level
    token = BOT_TOKEN.split(":")[1]
    for record in caplog.records:
        assert token not in record.getMessage()
    assert token not in caplog.text
    assert token not in (failed.error or "")


def test_channel_problems_names_every_channel_that_cannot_send(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tradewarden.notify.channels import channel_problems

    monkeypatch.delenv("TW_TEST_NOPE", raising=False)
    monkeypatch.setenv("TW_TEST_BAD", "nosuchservice://s3cr3tT0kenValue")
    monkeypatch.setenv("TW_TEST_OK", "json://127.0.0.1:9/x")
    problems = channel_problems(
        [
            _apprise("missing", "TW_TEST_NOPE"),
            _apprise("bad", "TW_TEST_BAD"),
            _apprise("fine", "TW_TEST_OK"),
        ]
    )
    assert len(problems) == 2
    assert "channel 'missing'" in problems[0]
    assert "channel 'bad'" in problems[1]
    assert "not a valid Apprise URL" in problems[1]
    assert "s3cr3tT0kenValue" not in " ".join(problems)
