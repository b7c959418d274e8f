"""Maintenance windows mute through the dispatcher as silences do (real store and outbox):
nothing while inside, the resolved notice of an alert announced before, notices again
after the window."""

from __future__ import annotations

from typing import Any

from alerting.conftest import DispatcherFactory, notifications
from tradewarden.alerting import Alert, MaintenanceWindow
from tradewarden.alerting._matchers import parse_matchers
from tradewarden.alerting._silence_store import SilenceStore
from tradewarden.clock import ManualClock
from tradewarden.series import Labels
from tradewarden.store import Database

TREE: dict[str, Any] = {
    "receiver": "chat",
    "group_by": ["alertname"],
    "group_wait": "30s",
    "group_interval": "5m",
    "repeat_interval": "1h",
}


def _ms(clock: ManualClock) -> int:
    return int(clock.now() * 1000)


def firing(clock: ManualClock, **labels: str) -> Alert:
    now = _ms(clock)
    return Alert(Labels.of(labels), {"summary": "it broke"}, starts_at_ms=now, ends_at_ms=now + 6e6)


def resolved(clock: ManualClock, alert: Alert) -> Alert:
    return Alert(alert.labels, alert.annotations, alert.starts_at_ms, ends_at_ms=_ms(clock))


def window(clock: ManualClock, start_s: float, end_s: float, matchers: str) -> MaintenanceWindow:
    now = _ms(clock)
    return MaintenanceWindow(
        "upgrade",
        parse_matchers(matchers),
        starts_at_ms=now + int(start_s * 1000),
        ends_at_ms=now + int(end_s * 1000),
    )


async def test_an_alert_inside_a_window_is_not_notified_until_it_ends(
    make_dispatcher: DispatcherFactory, clock: ManualClock, database: Database
) -> None:
    silences = SilenceStore(database, clock, [window(clock, 0, 3600, 'bot="a"')])
    dispatcher = make_dispatcher(TREE, silences=silences)
    muted = firing(clock, alertname="BotDown", bot="a")
    other = firing(clock, alertname="RpcSlow", bot="b")
    assert dispatcher.muted_by(muted) == (["maintenance:upgrade"], None)
    await dispatcher.ingest([muted, other])
    clock.advance(30)
    assert await dispatcher.flush_due() == 1  # RpcSlow's group; BotDown's says nothing
    assert [r.title for r in await notifications(database)] == ["[FIRING:1] RpcSlow"]
    clock.advance(3600)  # the window is over: the alert still fires, so it is announced
    assert await dispatcher.flush_due() >= 1
    titles = [r.title for r in await notifications(database)]
    assert titles.count("[FIRING:1] BotDown") == 1


async def test_an_alert_announced_before_the_window_gets_its_resolved_notice(
    make_dispatcher: DispatcherFactory, clock: ManualClock, database: Database
) -> None:
    silences = SilenceStore(database, clock, [window(clock, 60, 7200, 'alertname=~".+"')])
    dispatcher = make_dispatcher(TREE, silences=silences)
    alert = firing(clock, alertname="Disk", host="h1")
    await dispatcher.ingest([alert])
    clock.advance(30)
    assert await dispatcher.flush_due() == 1
    clock.advance(60)  # inside the window now
    assert dispatcher.muted_by(alert)[0] == ["maintenance:upgrade"]
    clock.advance(300)
    assert await dispatcher.flush_due() == 0  # muted: no repeat, nothing new
    await dispatcher.ingest([resolved(clock, alert)])
    clock.advance(300)
    assert await dispatcher.flush_due() == 1
    rows = await notifications(database)
    assert [(r.event, r.title) for r in rows] == [
        ("firing", "[FIRING:1] Disk"),
        ("resolved", "[RESOLVED:1] Disk"),
    ]


async def test_set_windows_replaces_the_windows_in_force(
    database: Database, clock: ManualClock
) -> None:
    silences = SilenceStore(database, clock, [window(clock, 0, 60, 'bot="a"')])
    labels = Labels.of({"bot": "a"})
    assert silences.silenced_by(labels) == ["maintenance:upgrade"]
    silences.set_windows([])
    assert silences.silenced_by(labels) == []
