"""Fixtures of the escalation tests: people with loopback webhook channels, a schedule,
the real outbox, and escalators over the test's store."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from notify.conftest import webhook, wire
from support.notify_wire import WireServer
from tradewarden.clock import ManualClock
from tradewarden.escalation import (
    AckLinks,
    Escalator,
    LayerConfig,
    PersonConfig,
    PolicyConfig,
    ScheduleConfig,
    StepConfig,
)
from tradewarden.notify import AppriseChannelConfig, Message, Notifier, Severity
from tradewarden.store import Database

__all__ = ["wire"]

SIGNING_KEY = "k" * 48
PEOPLE = (
    PersonConfig(name="alice", channels=("alice-hook",)),
    PersonConfig(name="bob", channels=("bob-hook",)),
    PersonConfig(name="carol", channels=("carol-hook",)),
)
# The ManualClock starts at 1_800_000_000 (2027-01-15, a Friday): alice is primary.
SCHEDULE = ScheduleConfig(
    name="ops",
    time_zone="Europe/Berlin",
    layers=(
        LayerConfig(name="primary", members=("alice", "bob"), start=dt.date(2027, 1, 11)),
        LayerConfig(name="secondary", members=("bob", "alice"), start=dt.date(2027, 1, 11)),
    ),
)
PAGE = PolicyConfig(
    name="page",
    steps=(
        StepConfig(channels=("chat",), on_call=("ops:primary",), wait_minutes=15),
        StepConfig(on_call=("ops:secondary",), wait_minutes=15),
    ),
)


def channels() -> list[AppriseChannelConfig]:
    """Return a webhook channel per person and a chat channel, all on the wire."""
    return [
        webhook(name, env=f"TW_TEST_{name.upper().replace('-', '_')}")
        for name in ("alice-hook", "bob-hook", "carol-hook", "chat")
    ]


def alert(fingerprint: str = "bot-down", **fields: Any) -> Message:
    """Return a firing P0 message."""
    return Message(
        fingerprint=fingerprint, severity=Severity.P0, title=f"{fingerprint} fired", **fields
    )


EscalatorFactory = Callable[..., Escalator]


@pytest.fixture
async def notifier(
    database: Database, clock: ManualClock, wire: WireServer, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Notifier]:
    """Return the real notifier: every channel a webhook at ``/<channel>`` on the wire."""
    for config in channels():
        monkeypatch.setenv(str(config.url_env), f"json://127.0.0.1:{wire.port}/{config.name}")
    notifier = Notifier(database, clock, channels(), registry=CollectorRegistry())
    yield notifier
    await notifier.aclose()


@pytest.fixture
def make_escalator(database: Database, clock: ManualClock, notifier: Notifier) -> EscalatorFactory:
    """Return a factory of escalators (an "instance" each) over the test's store."""

    def _make(db: Database | None = None, **options: Any) -> Escalator:
        return Escalator(
            db or database,
            clock,
            options.pop("enqueue", notifier.enqueue),
            people=PEOPLE,
            schedules=(SCHEDULE,),
            channels=[c.name for c in channels()],
            links=AckLinks(SIGNING_KEY, base_url="http://warden.test", ttl_s=3600),
            **options,
        )

    return _make


def paths(wire: WireServer) -> list[str]:
    """Return the paths the webhooks were posted to, in order."""
    return [request.path for request in wire.of("webhook")]
