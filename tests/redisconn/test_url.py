"""Passwords in Redis URLs are masked for display and scrubbed from error text."""

from __future__ import annotations

from typing import Any

import pytest

from tradewarden.errors import ConfigError
from tradewarden.redisconn import ManagedRedis
from tradewarden.redisconn._url import Redactor


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
        ("redis://:s3cret@127.0.0.1:6379/0", "redis://:***@127.0.0.1:6379/0"),
        ("redis://warden:s3cret@redis:6379/2", "redis://warden:***@redis:6379/2"),
        ("rediss://:p%40ss@redis.example:6380", "rediss://:***@redis.example:6380"),
        ("redis://user@127.0.0.1:6379", "redis://user@127.0.0.1:6379"),
        (
            "redis://127.0.0.1:6379?password=s3cret&db=1",
            "redis://127.0.0.1:6379?password=***&db=1",
        ),
        ("unix://:s3cret@/run/redis.sock?db=0", "unix://:***@/run/redis.sock?db=0"),
    ],
)
def test_display_url_masks_the_password(url: str, shown: str) -> None:
    assert Redactor(url).display_url == shown


def test_redact_scrubs_raw_and_decoded_password_from_text() -> None:
    redactor = Redactor("redis://:p%40ss@127.0.0.1:6379/0")
    text = "AUTH p@ss failed; url had p%40ss"
    assert redactor.redact(text) == "AUTH *** failed; url had ***"


def test_url_without_password_redacts_nothing() -> None:
    assert Redactor("redis://127.0.0.1:6379").redact("nothing secret") == "nothing secret"


def test_invalid_url_fails_loudly_without_the_password() -> None:
    with pytest.raises(ConfigError) as caught:
        ManagedRedis("http://:s3cret@127.0.0.1:6379/0")
    assert "s3cret" not in str(caught.value)
    assert caught.value.permanent is True


@pytest.mark.parametrize(
    "option",
    ["connect_timeout_s", "health_check_interval_s", "max_connections", "offline_queue_timeout_s"],
)
def test_non_positive_settings_are_rejected(option: str) -> None:
    options: dict[str, Any] = {option: 0}
    with pytest.raises(ValueError, match=option):
        ManagedRedis("redis://127.0.0.1:6379/0", **options)
