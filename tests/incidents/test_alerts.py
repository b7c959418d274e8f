"""Incidents from alerts: the policy, one incident per group, times, the flush's transaction."""

from __future__ import annotations

import asyncio

import pytest

from incidents.conftest import (
    DispatcherFactory,
    ServiceFactory,
    alert,
    detail,
    ended,
    incidents,
    kinds,
)
from tradewarden.clock import ManualClock, utc_datetime
from tradewarden.incidents import IncidentObserver, IncidentsConfig, IncidentService
from tradewarden.notify import Severity
from tradewarden.store import Database


async def test_a_p2_alert_opens_nothing(
    service: IncidentService, make_dispatcher: DispatcherFactory, clock: ManualClock
) -> None:
    dispatcher = make_dispatcher(service)
    await dispatcher.ingest([alert(clock, alertname="DiskFilling", severity="warning")])
    assert await dispatcher.flush_due() == 1  # notified, but no incident
    assert await incidents(service) == []


async def test_the_policy_is_configurable_and_can_be_off(
    make_service: ServiceFactory, make_dispatcher: DispatcherFactory, clock: ManualClock
) -> None:
    off = make_service(IncidentsConfig(enabled=False))
    dispatcher = make_dispatcher(off)
    await dispatcher.ingest([alert(clock, alertname="Down", severity="critical")])
    await dispatcher.flush_due()
    assert await incidents(off) == []
    p2 = make_service(IncidentsConfig(open_for=(Severity.P2,)))
    dispatcher = make_dispatcher(p2)
    await dispatcher.ingest([alert(clock, alertname="DiskFilling", severity="warning")])
    await dispatcher.flush_due()
    assert [i.severity for i in await incidents(p2)] == ["P2"]


async def test_two_alerts_of_one_group_open_one_incident(
    service: IncidentService, make_dispatcher: DispatcherFactory, clock: ManualClock
) -> None:
    dispatcher = make_dispatcher(service)
    first = alert(
        clock,
        ago_s=90,
        annotations={"summary": "bot-a stopped answering"},
        alertname="BotDown",
        severity="critical",
        bot="bot-a",
        service="api",
    )
    await dispatcher.ingest([first])
    flushed_at = utc_datetime(clock.now())
    assert await dispatcher.flush_due() == 1
    clock.advance(61)
    second = alert(clock, alertname="BotDown", severity="critical", bot="bot-b", service="api")
    await dispatcher.ingest([second])
    assert await dispatcher.flush_due() == 1

    [incident] = await incidents(service)
    assert incident.public_id == "INC-2027-0001"  # the ManualClock's year
    assert incident.title == "BotDown: bot-a stopped answering"
    assert (incident.severity, incident.status) == ("P0", "investigating")
    assert incident.group_key == next(iter(dispatcher.groups))
    assert incident.impact_started_at == utc_datetime(first.starts_at_ms / 1000)
    assert incident.detected_at == flushed_at  # the flush that first announced it
    assert incident.notified_at == flushed_at
    assert (incident.services, incident.bots) == (["api"], ["bot-a", "bot-b"])
    found = await detail(service, incident.public_id)
    assert [a.labels["bot"] for a in found.alerts] == ["bot-a", "bot-b"]
    assert kinds(found) == ["opened", "alert_fired", "notified", "alert_fired", "notified"]
    assert found.timeline[2].data["channels"] == ["chat"]


async def test_a_group_already_open_takes_alerts_of_any_severity_and_rises(
    service: IncidentService, make_dispatcher: DispatcherFactory, clock: ManualClock
) -> None:
    dispatcher = make_dispatcher(service)
    await dispatcher.ingest([alert(clock, alertname="Lag", severity="high", i="1")])
    await dispatcher.flush_due()
    clock.advance(61)
    await dispatcher.ingest([alert(clock, alertname="Lag", severity="warning", i="2")])
    await dispatcher.flush_due()
    clock.advance(61)
    await dispatcher.ingest([alert(clock, alertname="Lag", severity="critical", i="3")])
    await dispatcher.flush_due()
    [incident] = await incidents(service)
    assert incident.severity == "P0"
    found = await detail(service, incident.public_id)
    assert len(found.alerts) == 3
    change = [e for e in found.timeline if e.kind == "field_changed"]
    assert [(e.data["field"], e.data["old"], e.data["new"]) for e in change] == [
        ("severity", "P1", "P0")
    ]


async def test_a_rolled_back_flush_leaves_no_incident(
    service: IncidentService, make_dispatcher: DispatcherFactory, clock: ManualClock
) -> None:
    class Boom:
        async def on_flush(self, *_args: object, **_kwargs: object) -> None:
            raise RuntimeError("the flush fails after the incident was written")

    dispatcher = make_dispatcher(service)
    dispatcher.observers.append(Boom())
    await dispatcher.ingest([alert(clock, alertname="Down", severity="critical")])
    with pytest.raises(RuntimeError, match="flush fails"):
        await dispatcher.flush_due()
    assert await incidents(service) == []
    dispatcher.observers.pop()
    assert await dispatcher.flush_due() == 1  # retried whole: one incident, numbered 1
    assert [i.public_id for i in await incidents(service)] == ["INC-2027-0001"]


async def test_resolved_alerts_move_the_incident_to_monitoring_not_resolved(
    service: IncidentService, make_dispatcher: DispatcherFactory, clock: ManualClock
) -> None:
    dispatcher = make_dispatcher(service)
    one = alert(clock, alertname="Down", severity="critical", i="1")
    two = alert(clock, alertname="Down", severity="critical", i="2")
    await dispatcher.ingest([one, two])
    await dispatcher.flush_due()
    clock.advance(61)
    await dispatcher.ingest([ended(clock, one)])
    await dispatcher.flush_due()
    [incident] = await incidents(service)
    assert incident.status == "investigating"  # one alert still fires
    clock.advance(61)
    await dispatcher.ingest([ended(clock, two)])
    await dispatcher.flush_due()
    [incident] = await incidents(service)
    assert (incident.status, incident.resolved_at) == ("monitoring", None)
    assert incident.mitigated_at == utc_datetime(clock.now())
    found = await detail(service, incident.public_id)
    assert kinds(found)[-3:] == ["alert_resolved", "notified", "status_changed"]
    assert kinds(found).count("alert_resolved") == 2
    assert all(a.ends_at is not None for a in found.alerts)


async def test_an_alert_firing_after_the_resolve_opens_a_new_incident(
    service: IncidentService, make_dispatcher: DispatcherFactory, clock: ManualClock
) -> None:
    dispatcher = make_dispatcher(service)
    first = alert(clock, alertname="Down", severity="critical")
    await dispatcher.ingest([first])
    await dispatcher.flush_due()
    [incident] = await incidents(service)
    async with service.database.session() as session:
        await service.resolve(session, incident.public_id, by="alice", resolution="restarted")
    clock.advance(61)
    await dispatcher.ingest([ended(clock, first)])
    await dispatcher.flush_due()
    clock.advance(600)
    await dispatcher.ingest([alert(clock, alertname="Down", severity="critical")])
    await dispatcher.flush_due()
    assert [(i.public_id, i.status) for i in await incidents(service)] == [
        ("INC-2027-0001", "resolved"),
        ("INC-2027-0002", "investigating"),
    ]


async def test_a_restarted_warden_continues_the_open_incident(
    make_service: ServiceFactory, make_dispatcher: DispatcherFactory, clock: ManualClock
) -> None:
    before = make_service()
    dispatcher = make_dispatcher(before)
    one = alert(clock, alertname="Down", severity="critical", i="1")
    await dispatcher.ingest([one])
    await dispatcher.flush_due()
    await before.close()

    after = make_service()  # a new process over the same store
    restarted = make_dispatcher(after)
    await restarted.load()
    clock.advance(61)
    await restarted.ingest([alert(clock, alertname="Down", severity="critical", i="2")])
    await restarted.flush_due()
    clock.advance(61)
    await restarted.ingest([ended(clock, one)])
    await restarted.flush_due()
    [incident] = await incidents(after)
    found = await detail(after, incident.public_id)
    assert len(found.alerts) == 2
    assert kinds(found).count("alert_fired") == 2
    assert kinds(found).count("alert_resolved") == 1
    async with after.database.session() as session:
        opened = await after.open(
            session, title="by hand", severity=Severity.P3, by="alice", services=["x"]
        )
    assert opened.public_id == "INC-2027-0002"  # the sequence continues
    await after.close()


async def test_two_instances_flushing_one_group_open_one_incident(
    make_service: ServiceFactory, clock: ManualClock, database_url: str
) -> None:
    """The dispatcher's outbox keys already order two flushes of one group; the incident's
    own lock holds without them (here: the observers called straight)."""
    inside = asyncio.Event()
    firing = alert(clock, alertname="Down", severity="critical")
    other_db = Database(database_url)
    services = [make_service(), make_service(db=other_db)]

    async def flush(service: IncidentService, *, hold: bool) -> None:
        async with service.database.session() as session:
            await IncidentObserver(service).on_flush(
                "group-1", {}, firing=[firing], resolved=[], channels=["chat"], session=session
            )
            if hold:
                inside.set()
                await asyncio.sleep(0.3)  # the other instance looks for the incident now

    try:
        first = asyncio.create_task(flush(services[0], hold=True))
        await inside.wait()
        await flush(services[1], hold=False)
        await first
        [incident] = await incidents(services[0])
        found = await detail(services[0], incident.public_id)
        assert kinds(found).count("opened") == 1
        assert kinds(found).count("notified") == 2  # each instance's flush is recorded
    finally:
        await other_db.dispose()
