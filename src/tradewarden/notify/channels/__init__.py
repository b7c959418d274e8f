"""Channels: one module per kind (``apprise``, ``slack``, ``pagerduty``), all shaped alike:
a class with ``name``, ``async send(message, timeout_s) -> SendResult`` and ``aclose()``."""

from __future__ import annotations

from collections.abc import Iterable

from tradewarden.clock import Clock, SystemClock
from tradewarden.errors import ConfigError
from tradewarden.notify._config import (
    AppriseChannelConfig,
    ChannelConfig,
    PagerDutyChannelConfig,
    SlackChannelConfig,
)
from tradewarden.notify._redact import SecretScrubber
from tradewarden.notify._templates import Renderer
from tradewarden.notify.channels._base import Channel, ChannelSecret, HttpPoster
from tradewarden.notify.channels.apprise import AppriseChannel, apprise_url_problem
from tradewarden.notify.channels.pagerduty import PagerDutyChannel, pagerduty_event
from tradewarden.notify.channels.slack import SlackChannel, slack_blocks

__all__ = [
    "AppriseChannel",
    "Channel",
    "ChannelSecret",
    "HttpPoster",
    "PagerDutyChannel",
    "SlackChannel",
    "apprise_url_problem",
    "build_channels",
    "channel_problems",
    "pagerduty_event",
    "slack_blocks",
]


def build_channels(
    configs: Iterable[ChannelConfig],
    *,
    clock: Clock,
    scrubber: SecretScrubber,
    http: HttpPoster,
    check_secrets: bool = True,
) -> dict[str, Channel]:
    """Build each configured channel. With ``check_secrets``, raise ConfigError naming the
    channel when its secret is missing or malformed (a channel that cannot send must not
    start silently); the admin commands, which send nothing, skip the check."""
    channels: dict[str, Channel] = {}
    for config in configs:
        renderer = Renderer(title=config.templates.title, body=config.templates.body)
        channel: Channel
        if isinstance(config, AppriseChannelConfig):
            secret = ChannelSecret(
                config.name,
                "url",
                env=config.url_env,
                file=config.url_file,
                scrubber=scrubber,
                problem=apprise_url_problem,
            )
            channel = AppriseChannel(config.name, secret, renderer, clock, scrubber)
        elif isinstance(config, SlackChannelConfig):
            secret = ChannelSecret(
                config.name,
                "url",
                env=config.url_env,
                file=config.url_file,
                scrubber=scrubber,
                problem=SlackChannel.url_problem,
            )
            channel = SlackChannel(config.name, secret, renderer, http)
        elif isinstance(config, PagerDutyChannelConfig):
            secret = ChannelSecret(
                config.name,
                "routing_key",
                env=config.routing_key_env,
                file=config.routing_key_file,
                scrubber=scrubber,
            )
            channel = PagerDutyChannel(config.name, str(config.url), secret, renderer, http)
        else:  # pragma: no cover - the union is closed
            raise ConfigError(f"channel {config.name!r}: unknown type")
        if check_secrets:
            try:
                secret.read()
            except ValueError as exc:
                raise ConfigError(f"channels: {exc}") from None
        channels[config.name] = channel
    return channels


def channel_problems(configs: Iterable[ChannelConfig]) -> list[str]:
    """Return what stops each channel from sending (a missing or malformed secret, an
    Apprise URL Apprise cannot use), one line per channel, secrets never quoted: for
    ``config check``, which should name every problem, not only the first."""
    scrubber = SecretScrubber()
    http = HttpPoster(SystemClock(), scrubber)
    problems = []
    for config in configs:
        try:
            build_channels([config], clock=SystemClock(), scrubber=scrubber, http=http)
        except ConfigError as exc:
            problems.append(exc.message)
    return problems
