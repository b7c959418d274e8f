"""The dispatcher's hooks: flush observers (in the flush's transaction) and reconfigure."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from alerting.conftest import DispatcherFactory, notifications
from tradewarden.alerting import Alert, RouteConfig, Router
from tradewarden.alerting._inhibit import Inhibitor
from tradewarden.clock import ManualClock
from tradewarden.series import Labels
from tradewarden.store import Database

TREE: dict[str, Any] = {"receiver": "chat", "group_by": ["alertname"], "group_wait": "0s"}


def _alert(clock: ManualClock, **labels: str) -> Alert:
    now = int(clock.now() * 1000)
    return Alert(Labels.of(labels), {}, starts_at_ms=now, ends_at_ms=now + 600_000)


class Recorder:
    def __init__(self, fail: bool = False) -> None:
        self.calls: list[tuple[str, list[str], list[str], list[str]]] = []
        self.fail = fail

    async def on_flush(
        self,
        group_key: str,
        group_labels: dict[str, str],
        *,
        firing: Sequence[Alert],
        resolved: Sequence[Alert],
        channels: Sequence[str],
        session: AsyncSession,
    ) -> None:
        assert session.in_transaction()
        self.calls.append(
            (
                group_labels["alertname"],
                [a.labels.get("i") or "" for a in firing],
                [a.labels.get("i") or "" for a in resolved],
                list(channels),
            )
        )
        if self.fail:
            raise RuntimeError("observer failed")


async def test_an_observer_sees_each_notifying_flush(
    make_dispatcher: DispatcherFactory, clock: ManualClock
) -> None:
    recorder = Recorder()
    dispatcher = make_dispatcher(TREE, observers=[recorder])
    alert = _alert(clock, alertname="Down", i="1")
    await dispatcher.ingest([alert])
    assert await dispatcher.flush_due() == 1
    assert recorder.calls == [("Down", ["1"], [], ["chat"])]
    end = int(clock.now() * 1000)
    await dispatcher.ingest([Alert(alert.labels, {}, alert.starts_at_ms, ends_at_ms=end)])
    clock.advance(301)
    assert await dispatcher.flush_due() == 1
    assert recorder.calls[-1] == ("Down", [], ["1"], ["chat"])


async def test_a_failing_observer_rolls_the_flush_back(
    make_dispatcher: DispatcherFactory, clock: ManualClock, database: Database
) -> None:
    dispatcher = make_dispatcher(TREE, observers=[Recorder(fail=True)])
    await dispatcher.ingest([_alert(clock, alertname="Down", i="1")])
    with pytest.raises(RuntimeError, match="observer failed"):
        await dispatcher.flush_due()
    assert await notifications(database) == []  # the outbox row rolled back with it
    dispatcher.observers.clear()
    assert await dispatcher.flush_due() == 1  # retried whole
    assert len(await notifications(database)) == 1


async def test_reconfigure_routes_new_alerts_by_the_new_tree(
    make_dispatcher: DispatcherFactory, clock: ManualClock, database: Database
) -> None:
    dispatcher = make_dispatcher(TREE)
    await dispatcher.ingest([_alert(clock, alertname="Down", i="1")])
    assert await dispatcher.flush_due() == 1
    new_tree = {**TREE, "receiver": "sms"}
    dispatcher.reconfigure(
        Router.from_config(RouteConfig.model_validate(new_tree)),
        inhibitor=Inhibitor(()),
        time_intervals=(),
    )
    await dispatcher.ingest([_alert(clock, alertname="Other", i="2")])
    assert await dispatcher.flush_due() == 1
    rows = await notifications(database)
    assert [(r.channel, r.title) for r in rows] == [
        ("chat", "[FIRING:1] Down"),
        ("sms", "[FIRING:1] Other"),
    ]
