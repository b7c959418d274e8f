"""Fixtures of the delivery tests: the fake services, a store, and a notifier over them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from support.notify_wire import WireServer
from tradewarden.clock import ManualClock
from tradewarden.notify import (
    AppriseChannelConfig,
    ChannelConfig,
    Message,
    Notifier,
    PagerDutyChannelConfig,
    RetryConfig,
    Severity,
)
from tradewarden.store import Database

PD_KEY = "R0UT1NGKEYR0UT1NGKEYR0UT1NGKEY42"


@pytest.fixture
async def wire() -> AsyncIterator[WireServer]:
    """Return the fake Slack, Telegram, Twilio, PagerDuty and webhook services."""
    async with WireServer() as server:
        yield server


def message(fingerprint: str = "alert-1", **fields: Any) -> Message:
    """Return a firing P1 message."""
    values: dict[str, Any] = {
        "fingerprint": fingerprint,
        "severity": Severity.P1,
        "title": f"Bot {fingerprint} stopped trading",
        "summary": "No order for 10 minutes",
        "metric": "orders_total",
        "threshold": "> 0 per 10m",
        "current_value": "0",
    }
    values.update(fields)
    return Message(**values)


FAST = RetryConfig(initial_backoff_s=1.0, max_backoff_s=8.0, deadline_s=60.0, timeout_s=5.0)


def pagerduty(
    name: str = "pager", *, wire: WireServer, fallback: str | None = None, **extra: Any
) -> PagerDutyChannelConfig:
    """Return a PagerDuty channel pointed at the fake service."""
    return PagerDutyChannelConfig(
        type="pagerduty",
        name=name,
        routing_key_env="TW_TEST_PD_KEY",
        url=f"{wire.url}/v2/enqueue",
        fallback=fallback,
        retry=extra.pop("retry", FAST),
        **extra,
    )


def webhook(
    name: str = "hook", *, env: str = "TW_TEST_HOOK_URL", fallback: str | None = None, **extra: Any
) -> AppriseChannelConfig:
    """Return an Apprise channel whose URL comes from ``env``."""
    return AppriseChannelConfig(
        type="apprise",
        name=name,
        url_env=env,
        fallback=fallback,
        retry=extra.pop("retry", FAST),
        **extra,
    )


NotifierFactory = Callable[[Sequence[ChannelConfig]], Notifier]


@pytest.fixture
async def make_notifier(
    database: Database,
    clock: ManualClock,
    wire: WireServer,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[NotifierFactory]:
    """Return a factory of notifiers over the test's store, closed at the end."""
    monkeypatch.setenv("TW_TEST_PD_KEY", PD_KEY)
    monkeypatch.setenv("TW_TEST_HOOK_URL", f"json://127.0.0.1:{wire.port}/hook")
    made: list[Notifier] = []

    def _make(channels: Sequence[ChannelConfig]) -> Notifier:
        notifier = Notifier(database, clock, channels, registry=CollectorRegistry())
        made.append(notifier)
        return notifier

    yield _make
    for notifier in made:
        await notifier.aclose()
