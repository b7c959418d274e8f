"""Fixtures of the alerting tests: a store, an outbox without workers, a dispatcher factory."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from tradewarden.alerting import RouteConfig, Router
from tradewarden.alerting._dispatch import Dispatcher
from tradewarden.alerting._inhibit import Inhibitor
from tradewarden.alerting._silence_store import SilenceStore
from tradewarden.clock import ManualClock
from tradewarden.notify import AppriseChannelConfig, Outbox
from tradewarden.store import Database, Notification

CHANNELS = ("chat", "sms", "pager")


@pytest.fixture
def outbox(database: Database, clock: ManualClock) -> Outbox:
    """Return an outbox over three channels (no worker sends: the rows are the result)."""
    configs = {
        name: AppriseChannelConfig(type="apprise", name=name, url_env="TW_TEST_UNUSED")
        for name in CHANNELS
    }
    return Outbox(database, clock, configs)


DispatcherFactory = Callable[..., Dispatcher]


@pytest.fixture
def make_dispatcher(database: Database, clock: ManualClock, outbox: Outbox) -> DispatcherFactory:
    """Return a factory of dispatchers over one route tree (a dict in Alertmanager's shape)."""

    def _make(route: dict[str, Any], **options: Any) -> Dispatcher:
        router = Router.from_config(RouteConfig.model_validate(route))
        return Dispatcher(
            database,
            clock,
            router,
            enqueue=outbox.enqueue,
            silences=options.pop("silences", None) or SilenceStore(database, clock),
            inhibitor=options.pop("inhibitor", None) or Inhibitor(()),
            per_alert_channels=lambda channel: channel == "pager",
            **options,
        )

    return _make


async def notifications(database: Database) -> list[Notification]:
    """Return every notification row, in the order written."""
    async with database.read_session() as session:
        return list((await session.scalars(select(Notification).order_by(Notification.id))).all())
