"""The dispatcher over a real store and outbox: grouping, timers, dedup, silences, restarts."""

from __future__ import annotations

from typing import Any

from alerting.conftest import DispatcherFactory, notifications
from tradewarden.alerting import Alert, InhibitRuleConfig
from tradewarden.alerting._inhibit import Inhibitor
from tradewarden.alerting._matchers import parse_matchers
from tradewarden.alerting._silence_store import SilenceStore
from tradewarden.clock import ManualClock
from tradewarden.series import Labels
from tradewarden.store import AuditRecord, Database

TREE: dict[str, Any] = {
    "receiver": "chat",
    "group_by": ["alertname"],
    "group_wait": "30s",
    "group_interval": "5m",
    "repeat_interval": "1h",
    "routes": [
        {"matchers": ['severity="critical"'], "receiver": "sms", "group_wait": "0s"},
        {"matchers": ["team=pd"], "receiver": "pager"},
    ],
}
AUDIT = AuditRecord(actor="alice", actor_type="user", action="", outcome="success")


def _ms(clock: ManualClock) -> int:
    return int(clock.now() * 1000)


def firing(clock: ManualClock, **labels: str) -> Alert:
    return Alert(
        Labels.of(labels),
        {"summary": "it broke"},
        starts_at_ms=_ms(clock),
        ends_at_ms=_ms(clock) + 600_000,
    )


def resolved(clock: ManualClock, alert: Alert) -> Alert:
    return Alert(alert.labels, alert.annotations, alert.starts_at_ms, ends_at_ms=_ms(clock))


async def test_a_group_waits_then_notifies_once_then_repeats(
    make_dispatcher: DispatcherFactory, clock: ManualClock, database: Database
) -> None:
    dispatcher = make_dispatcher(TREE)
    a = firing(clock, alertname="Down", instance="1")
    b = firing(clock, alertname="Down", instance="2")
    await dispatcher.ingest([a])
    clock.advance(10)
    await dispatcher.ingest([b])
    assert await dispatcher.flush_due() == 0  # group_wait (30 s) has not passed
    clock.advance(20)
    assert await dispatcher.flush_due() == 1
    (row,) = await notifications(database)
    assert (row.channel, row.event) == ("chat", "firing")
    assert row.title == "[FIRING:2] Down"
    await dispatcher.ingest([a, b])  # Prometheus resends: nothing new
    clock.advance(300)
    assert await dispatcher.flush_due() == 0
    assert len(await notifications(database)) == 1
    clock.advance(3600)  # repeat_interval
    await dispatcher.ingest(
        [
            firing(clock, alertname="Down", instance="1"),
            firing(clock, alertname="Down", instance="2"),
        ]
    )
    assert await dispatcher.flush_due() == 1
    assert len(await notifications(database)) == 2
    await dispatcher.ingest([resolved(clock, a), resolved(clock, b)])
    clock.advance(300)
    assert await dispatcher.flush_due() == 1
    rows = await notifications(database)
    assert rows[-1].event == "resolved"
    assert rows[-1].title == "[RESOLVED:2] Down"
    assert dispatcher.groups == {}
    assert dispatcher.alerts == {}


async def test_p0_goes_at_once_and_pagerduty_gets_one_message_per_alert(
    make_dispatcher: DispatcherFactory, clock: ManualClock, database: Database
) -> None:
    dispatcher = make_dispatcher({**TREE, "group_wait": None})
    await dispatcher.ingest([firing(clock, alertname="X", severity="critical")])
    assert await dispatcher.flush_due() == 1
    (sms,) = await notifications(database)
    assert (sms.channel, sms.severity) == ("sms", "P0")
    await dispatcher.ingest(
        [
            firing(clock, alertname="Y", team="pd", n="1"),
            firing(clock, alertname="Y", team="pd", n="2"),
        ]
    )
    clock.advance(30)
    assert await dispatcher.flush_due() == 1
    pager = [r for r in await notifications(database) if r.channel == "pager"]
    assert len(pager) == 2
    assert len({r.fingerprint for r in pager}) == 2


async def test_silenced_after_notified_still_resolves(
    make_dispatcher: DispatcherFactory, clock: ManualClock, database: Database
) -> None:
    silences = SilenceStore(database, clock)
    dispatcher = make_dispatcher(TREE, silences=silences)
    a = firing(clock, alertname="Disk", host="h1")
    quiet = firing(clock, alertname="Disk", host="h2")
    await silences.put(
        matchers=parse_matchers("host=h2"),
        starts_at_ms=None,
        ends_at_ms=_ms(clock) + 86_400_000,
        created_by="alice",
        comment="maintenance",
        audit=AUDIT,
    )
    await dispatcher.ingest([a, quiet])
    clock.advance(30)
    assert await dispatcher.flush_due() == 1
    (first,) = await notifications(database)
    assert first.title == "[FIRING:1] Disk"
    await silences.put(
        matchers=parse_matchers("host=h1"),
        starts_at_ms=None,
        ends_at_ms=_ms(clock) + 86_400_000,
        created_by="alice",
        comment="now this one",
        audit=AUDIT,
    )
    clock.advance(300)
    assert await dispatcher.flush_due() == 0  # muted: nothing to say
    await dispatcher.ingest([resolved(clock, a), resolved(clock, quiet)])
    clock.advance(300)
    assert await dispatcher.flush_due() == 1
    last = (await notifications(database))[-1]
    assert last.event == "resolved"
    assert last.title == "[RESOLVED:1] Disk"  # h1 only: h2 was never announced


async def test_inhibition_mutes_targets(
    make_dispatcher: DispatcherFactory, clock: ManualClock, database: Database
) -> None:
    rule = InhibitRuleConfig(
        source_matchers=('alertname="HostDown"',),
        target_matchers=('alertname="ProbeFailed"',),
        equal=("host",),
    )
    dispatcher = make_dispatcher({**TREE, "group_by": ["host"]}, inhibitor=Inhibitor([rule]))
    await dispatcher.ingest(
        [
            firing(clock, alertname="HostDown", host="a"),
            *(firing(clock, alertname="ProbeFailed", host="a", probe=str(i)) for i in range(30)),
            firing(clock, alertname="ProbeFailed", host="b", probe="0"),
        ]
    )
    clock.advance(30)
    assert await dispatcher.flush_due() == 2
    titles = sorted(r.title for r in await notifications(database))
    assert titles == ["[FIRING:1] HostDown host=a", "[FIRING:1] ProbeFailed host=b"]


async def test_a_restart_resumes_deadlines_and_sends_nothing_twice(
    make_dispatcher: DispatcherFactory, clock: ManualClock, database: Database
) -> None:
    first = make_dispatcher(TREE)
    a = firing(clock, alertname="Down", instance="1")
    await first.ingest([a])
    second = make_dispatcher(TREE)  # a new process over the same store
    await second.load()
    assert second.next_deadline_ms() == first.next_deadline_ms()
    clock.advance(30)
    assert await second.flush_due() == 1
    third = make_dispatcher(TREE)
    await third.load()
    await third.ingest([a])
    clock.advance(300)
    assert await third.flush_due() == 0
    assert len(await notifications(database)) == 1
    await third.ingest([resolved(clock, a)])
    clock.advance(300)
    assert await third.flush_due() == 1
    assert [r.event for r in await notifications(database)] == ["firing", "resolved"]


async def test_mute_time_intervals_hold_a_flush(
    make_dispatcher: DispatcherFactory, clock: ManualClock, database: Database
) -> None:
    from tradewarden.alerting import TimeInterval

    always = TimeInterval.model_validate(
        {"name": "always", "time_intervals": [{"weekdays": ["sunday:saturday"]}]}
    )
    tree = {**TREE, "routes": [{"matchers": ["team=ops"], "mute_time_intervals": ["always"]}]}
    dispatcher = make_dispatcher(tree, time_intervals=[always])
    await dispatcher.ingest([firing(clock, alertname="Muted", team="ops")])
    await dispatcher.ingest([firing(clock, alertname="Loud", team="dev")])
    clock.advance(30)
    assert await dispatcher.flush_due() == 1
    assert [r.title for r in await notifications(database)] == ["[FIRING:1] Loud"]


async def test_a_flapping_alerts_resolution_is_held(
    make_dispatcher: DispatcherFactory, clock: ManualClock, database: Database
) -> None:
    dispatcher = make_dispatcher(TREE, flap_flips=3, flap_window_ms=600_000)
    a = firing(clock, alertname="Flappy")
    await dispatcher.ingest([a])
    clock.advance(30)
    assert await dispatcher.flush_due() == 1
    for _ in range(2):  # resolve, fire, resolve: flapping
        clock.advance(10)
        await dispatcher.ingest([resolved(clock, a)])
        clock.advance(10)
        await dispatcher.ingest([firing(clock, alertname="Flappy")])
    clock.advance(10)
    await dispatcher.ingest([resolved(clock, a)])
    clock.advance(300)
    assert await dispatcher.flush_due() == 0  # held: it may come back
    clock.advance(600)
    assert await dispatcher.flush_due() == 1  # stayed resolved past the window
    assert [r.event for r in await notifications(database)] == ["firing", "resolved"]


async def test_the_loop_flushes_when_a_deadline_comes(
    make_dispatcher: DispatcherFactory, database: Database
) -> None:
    from support.eventually import eventually
    from tradewarden.clock import SystemClock

    dispatcher = make_dispatcher(TREE)
    dispatcher.clock = SystemClock()
    dispatcher.start()
    try:
        now = dispatcher.now_ms()
        await dispatcher.ingest(
            [Alert(Labels.of(alertname="Now", severity="critical"), starts_at_ms=now)]
        )

        async def sent() -> bool:
            return len(await notifications(database)) == 1

        await eventually(sent, timeout_s=10)
    finally:
        await dispatcher.stop()


async def test_the_rules_sink_hands_alerts_over(
    make_dispatcher: DispatcherFactory, clock: ManualClock
) -> None:
    from tradewarden.alerting._sink import DispatcherSink
    from tradewarden.rules._alerts import Alert as RuleAlert
    from tradewarden.rules._alerts import AlertState

    dispatcher = make_dispatcher(TREE)
    now = _ms(clock)
    rule_alert = RuleAlert(
        Labels.of(alertname="R", bot="a"),
        (("summary", "s"),),
        AlertState.FIRING,
        1.0,
        active_at_ms=now - 60_000,
        fired_at_ms=now - 1000,
        valid_until_ms=now + 240_000,
    )
    await DispatcherSink(dispatcher).send([rule_alert])
    (alert,) = dispatcher.alerts.values()
    assert (alert.starts_at_ms, alert.ends_at_ms) == (now - 1000, now + 240_000)
    assert alert.source.value == "rules"
    rule_alert.state, rule_alert.resolved_at_ms = AlertState.INACTIVE, now
    await DispatcherSink(dispatcher).send([rule_alert])
    assert dispatcher.active() == []


async def test_a_failed_flush_is_retried_whole_and_twins_send_once(
    make_dispatcher: DispatcherFactory, clock: ManualClock, database: Database, outbox: Any
) -> None:
    import pytest

    from tradewarden.errors import StoreError

    calls = 0

    async def flaky(message: Any, channels: Any, **kwargs: Any) -> dict[str, int]:
        nonlocal calls
        calls += 1
        ids: dict[str, int] = await outbox.enqueue(message, channels, **kwargs)
        if calls == 1:
            raise StoreError("the store went away mid-flush")
        return ids

    dispatcher = make_dispatcher(TREE)
    dispatcher.enqueue = flaky
    await dispatcher.ingest([firing(clock, alertname="Once")])
    twin = make_dispatcher(TREE)  # a second instance over the same store
    await twin.load()
    clock.advance(30)
    with pytest.raises(StoreError):
        await dispatcher.flush_due()
    assert await notifications(database) == []  # rolled back with the group's state
    assert await dispatcher.flush_due() == 1
    assert await twin.flush_due() == 1  # same group, same flush number: the same key
    (row,) = await notifications(database)
    assert row.title == "[FIRING:1] Once"


async def test_a_firing_group_escalates_and_its_resolution_stops_it(
    make_dispatcher: DispatcherFactory, clock: ManualClock, database: Database, outbox: Any
) -> None:
    from tradewarden.escalation import Escalator
    from tradewarden.store import EscalationRepository

    escalator = Escalator(database, clock, outbox.enqueue, channels=["chat", "sms", "pager"])
    dispatcher = make_dispatcher(TREE, escalation=escalator)
    a = firing(clock, alertname="Fire", severity="critical")
    await dispatcher.ingest([a])
    assert await dispatcher.flush_due() == 1
    (key,) = dispatcher.groups
    async with database.read_session() as session:
        opened = await EscalationRepository(session).get(key)
    assert opened is not None
    assert opened.policy_name == "default-P0"
    await dispatcher.ingest([resolved(clock, a)])
    clock.advance(300)
    assert await dispatcher.flush_due() == 1
    async with database.read_session() as session:
        closed = await EscalationRepository(session).get(key)
    assert closed is not None
    assert closed.status == "resolved"
