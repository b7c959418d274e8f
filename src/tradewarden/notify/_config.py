"""The config file's ``channels:`` section: where notifications go, and how hard to try.

Channel URLs and keys carry credentials, so they come only from an environment variable
(``url_env``) or a file (``url_file``); an inline ``url`` is refused with a message
saying so. A ``fallback`` names the channel that gets a copy when this one gives up.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator, model_validator

from tradewarden.notify._templates import check_template
from tradewarden.probes._secrets import EnvName

__all__ = [
    "AppriseChannelConfig",
    "ChannelConfig",
    "PagerDutyChannelConfig",
    "RateLimitConfig",
    "RetryConfig",
    "SlackChannelConfig",
    "TemplatesConfig",
    "check_channels",
]

ChannelName = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RateLimitConfig(_Frozen):
    """A token bucket: ``per_second`` sustained, ``burst`` at once (per warden instance)."""

    per_second: float = Field(gt=0, le=10_000)
    burst: int = Field(default=1, ge=1, le=10_000)


class RetryConfig(_Frozen):
    """Backoff (exponential, full jitter) between attempts, up to a deadline."""

    initial_backoff_s: float = Field(default=1.0, gt=0, le=3_600)
    max_backoff_s: float = Field(default=300.0, gt=0, le=86_400)
    # After this long without a delivery the notification fails (and goes to the fallback).
    deadline_s: float = Field(default=3_600.0, gt=0, le=7 * 86_400)
    # One attempt is cut off after this long (it then counts as a transient failure).
    timeout_s: float = Field(default=10.0, gt=0, le=120)


class TemplatesConfig(_Frozen):
    """Jinja2 templates for the title and the body; the defaults where unset."""

    title: str | None = Field(default=None, max_length=10_000)
    body: str | None = Field(default=None, max_length=100_000)

    @field_validator("title", "body")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None and (problem := check_template(value)):
            raise ValueError(problem)
        return value


class _Channel(_Frozen):
    name: ChannelName
    fallback: ChannelName | None = None
    rate_limit: RateLimitConfig | None = None
    retry: RetryConfig = RetryConfig()
    templates: TemplatesConfig = TemplatesConfig()


def _refuse_inline(field: str, values: Any) -> None:
    if isinstance(values, dict) and values.get(field) is not None:
        raise ValueError(
            f"{field}: a channel's {field} carries its credentials: give it in an environment"
            f" variable ({field}_env) or a file ({field}_file), not in the config file"
        )


def _exactly_one(field: str, env: object, file: object) -> None:
    if (env is None) == (file is None):
        raise ValueError(f"set exactly one of {field}_env or {field}_file")


class _UrlChannel(_Channel):
    """A channel whose whole address is a secret URL, from ``url_env`` or ``url_file``."""

    url: None = Field(default=None, exclude=True)
    url_env: EnvName | None = None
    url_file: Path | None = None

    @model_validator(mode="before")
    @classmethod
    def _no_inline_url(cls, values: Any) -> Any:
        _refuse_inline("url", values)
        return values

    @model_validator(mode="after")
    def _one_source(self) -> _UrlChannel:
        _exactly_one("url", self.url_env, self.url_file)
        return self


class AppriseChannelConfig(_UrlChannel):
    """Any Apprise URL (``tgram://``, ``mailto://``, ``twilio://``, ``discord://``,
    ``json://``, ...), read from ``url_env`` or ``url_file``."""

    type: Literal["apprise"]


class SlackChannelConfig(_UrlChannel):
    """A Slack incoming webhook, sent Block Kit blocks; its URL from ``url_env``/``url_file``."""

    type: Literal["slack"]


class PagerDutyChannelConfig(_Channel):
    """PagerDuty Events API v2: trigger, acknowledge and resolve by ``dedup_key``."""

    type: Literal["pagerduty"]
    routing_key: None = Field(default=None, exclude=True)
    routing_key_env: EnvName | None = None
    routing_key_file: Path | None = None
    # The events endpoint is not a secret (the routing key is): EU accounts use their own.
    url: HttpUrl = HttpUrl("https://events.pagerduty.com/v2/enqueue")

    @model_validator(mode="before")
    @classmethod
    def _no_inline_key(cls, values: Any) -> Any:
        _refuse_inline("routing_key", values)
        return values

    @model_validator(mode="after")
    def _one_source(self) -> PagerDutyChannelConfig:
        _exactly_one("routing_key", self.routing_key_env, self.routing_key_file)
        return self


ChannelConfig = Annotated[
    AppriseChannelConfig | SlackChannelConfig | PagerDutyChannelConfig,
    Field(discriminator="type"),
]


def check_channels(channels: tuple[Any, ...]) -> tuple[Any, ...]:
    """Refuse duplicate names, a fallback naming no channel, and fallback loops."""
    by_name: dict[str, Any] = {}
    for channel in channels:
        if channel.name in by_name:
            raise ValueError(f"channel name {channel.name!r} is used twice")
        by_name[channel.name] = channel
    for channel in channels:
        seen = [channel.name]
        fallback = channel.fallback
        while fallback is not None:
            if fallback not in by_name:
                raise ValueError(
                    f"channel {seen[-1]!r}: fallback {fallback!r} is not a configured channel"
                )
            if fallback in seen:
                loop = " -> ".join([*seen, fallback])
                raise ValueError(f"channel {channel.name!r}: fallbacks loop ({loop})")
            seen.append(fallback)
            fallback = by_name[fallback].fallback
    return channels
