"""The incident service over the real store: by hand, transitions, the timeline, acks."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from incidents.conftest import (
    DispatcherFactory,
    ServiceFactory,
    alert,
    detail,
    incidents,
    kinds,
)
from tradewarden.clock import ManualClock, utc_datetime
from tradewarden.errors import NotFoundError
from tradewarden.escalation import Escalator
from tradewarden.incidents import Impact, IncidentObserver, IncidentService, Status, TransitionError
from tradewarden.notify import Outbox, Severity
from tradewarden.store import Database, Escalation


async def _open(service: IncidentService, title: str = "RPC degraded") -> str:
    async with service.database.session() as session:
        incident = await service.open(
            session,
            title=title,
            severity=Severity.P1,
            by="alice",
            services=["rpc", "rpc"],
            impact=Impact(users=12, functionality="order placement", money_at_risk=2500.0),
        )
        return incident.public_id


async def test_ids_count_per_year_of_opening(service: IncidentService, clock: ManualClock) -> None:
    first, second = await _open(service), await _open(service)
    clock.advance(1_830_000_000 - clock.now())  # 2027-12-28: still 2027
    third = await _open(service)
    clock.advance(7 * 86_400)  # into 2028
    fourth = await _open(service)
    assert [first, second, third, fourth] == [
        "INC-2027-0001",
        "INC-2027-0002",
        "INC-2027-0003",
        "INC-2028-0001",
    ]


async def test_an_incident_opened_by_hand_has_its_fields_and_an_opened_entry(
    service: IncidentService, clock: ManualClock
) -> None:
    incident_id = await _open(service)
    found = await detail(service, incident_id)
    incident = found.incident
    assert (incident.title, incident.severity, incident.status) == (
        "RPC degraded",
        "P1",
        "investigating",
    )
    assert incident.services == ["rpc"]
    assert incident.impact == {
        "users": 12,
        "functionality": "order placement",
        "money_at_risk": 2500.0,
    }
    now = utc_datetime(clock.now())
    assert (incident.detected_at, incident.impact_started_at, incident.notified_at) == (
        now,
        now,
        None,
    )
    assert kinds(found) == ["opened"]
    assert found.timeline[0].actor == "alice"


async def test_status_changes_follow_the_transitions(
    service: IncidentService, clock: ManualClock
) -> None:
    incident_id = await _open(service)
    db = service.database
    async with db.session() as session:
        await service.set_status(session, incident_id, Status.IDENTIFIED, by="bob", reason="RPC")
    clock.advance(60)
    async with db.session() as session:
        await service.set_status(session, incident_id, Status.MONITORING, by="bob")
    with pytest.raises(TransitionError, match="monitoring already"):
        async with db.session() as session:
            await service.set_status(session, incident_id, Status.MONITORING, by="bob")
    clock.advance(60)
    async with db.session() as session:
        await service.resolve(session, incident_id, by="carol", resolution="failed over")
    with pytest.raises(TransitionError, match="resolved"):
        async with db.session() as session:
            await service.set_status(session, incident_id, Status.INVESTIGATING, by="bob")
    found = await detail(service, incident_id)
    incident = found.incident
    assert incident.status == "resolved"
    assert (incident.resolved_by, incident.resolution) == ("carol", "failed over")
    assert incident.mitigated_at == utc_datetime(clock.now() - 60)  # reached monitoring
    assert incident.resolved_at == utc_datetime(clock.now())
    assert kinds(found) == ["opened", "status_changed", "status_changed", "resolved"]
    assert found.timeline[1].data == {"from": "investigating", "to": "identified", "reason": "RPC"}


async def test_unknown_incidents_and_fields_are_refused(service: IncidentService) -> None:
    with pytest.raises(NotFoundError, match="INC-2027-0099"):
        async with service.database.session() as session:
            await service.note(session, "INC-2027-0099", "hello", by="alice")
    incident_id = await _open(service)
    with pytest.raises(ValueError, match="status: not a field"):
        async with service.database.session() as session:
            await service.update(session, incident_id, {"status": "resolved"}, by="alice")


async def test_the_timeline_only_grows(service: IncidentService, clock: ManualClock) -> None:
    incident_id = await _open(service)
    db = service.database
    seen = [(e.id, e.kind, e.text) for e in (await detail(service, incident_id)).timeline]
    for step in range(3):
        clock.advance(30)
        async with db.session() as session:
            await service.note(session, incident_id, f"note {step}", by="alice")
            await service.update(
                session, incident_id, {"commander": f"person-{step}"}, by="alice", reason="handoff"
            )
        timeline = (await detail(service, incident_id)).timeline
        now = [(e.id, e.kind, e.text) for e in timeline]
        assert now[: len(seen)] == seen  # what was written stays as it was
        assert len(now) == len(seen) + 2
        seen = now
    changes = [e.data for e in (await detail(service, incident_id)).timeline if e.data.get("field")]
    assert [(c["old"], c["new"]) for c in changes] == [
        (None, "person-0"),
        ("person-0", "person-1"),
        ("person-1", "person-2"),
    ]


async def test_post_mortem_fields_and_action_items(service: IncidentService) -> None:
    incident_id = await _open(service)
    db = service.database
    async with db.session() as session:
        await service.resolve(session, incident_id, by="alice", resolution="restarted the node")
        await service.update(
            session,
            incident_id,
            {
                "root_cause": "disk full",
                "lessons_learned": "alert earlier",
                "false_positive": False,
                "impact": Impact(users=3),
            },
            by="alice",
        )
        await service.add_action_item(
            session,
            incident_id,
            title="Disk alert at 80 %",
            owner="bob",
            due_date=date(2027, 2, 1),
            by="alice",
        )
        await service.add_action_item(
            session, incident_id, title="Log rotation", owner=None, due_date=None, by="alice"
        )
    async with db.session() as session:
        item = await service.update_action_item(
            session, incident_id, 1, {"status": "done"}, by="bob"
        )
        assert (item.number, item.status) == (1, "done")
    with pytest.raises(NotFoundError, match="action item 3"):
        async with db.session() as session:
            await service.update_action_item(session, incident_id, 3, {"status": "done"}, by="bob")
    found = await detail(service, incident_id)
    assert [(i.number, i.title, i.status) for i in found.action_items] == [
        (1, "Disk alert at 80 %", "done"),
        (2, "Log rotation", "open"),
    ]
    assert found.incident.root_cause == "disk full"
    assert found.incident.impact == {"users": 3, "functionality": None, "money_at_risk": None}


async def _escalation(database: Database, key: str) -> Escalation:
    async with database.read_session() as session:
        row = await session.scalar(select(Escalation).where(Escalation.key == key))
    assert row is not None
    return row


async def test_an_acknowledged_escalation_acknowledges_the_incident(
    make_service: ServiceFactory,
    make_dispatcher: DispatcherFactory,
    clock: ManualClock,
    outbox: Outbox,
    database: Database,
) -> None:
    escalator = Escalator(database, clock, outbox.enqueue)
    service = make_service(escalation=escalator)
    escalator.observers.append(IncidentObserver(service))
    dispatcher = make_dispatcher(service, escalation=escalator)
    await dispatcher.ingest([alert(clock, alertname="Down", severity="critical")])
    await dispatcher.flush_due()
    clock.advance(1)
    assert await escalator.run_due() == 1  # the first step pages: on the timeline
    clock.advance(120)
    [incident] = await incidents(service)
    assert incident.group_key is not None
    await escalator.acknowledge(incident.group_key, by="alice", reason="looking")
    found = await detail(service, incident.public_id)
    assert found.incident.acknowledged_at == utc_datetime(clock.now())
    assert found.incident.acknowledged_by == "alice"
    assert kinds(found)[-2:] == ["escalated", "acknowledged"]
    assert found.timeline[-1].data == {"via": "escalation", "reason": "looking"}


async def test_acknowledging_the_incident_stops_the_escalation(
    make_service: ServiceFactory,
    make_dispatcher: DispatcherFactory,
    clock: ManualClock,
    outbox: Outbox,
    database: Database,
) -> None:
    escalator = Escalator(database, clock, outbox.enqueue)
    service = make_service(escalation=escalator)
    escalator.observers.append(IncidentObserver(service))
    dispatcher = make_dispatcher(service, escalation=escalator)
    await dispatcher.ingest([alert(clock, alertname="Down", severity="critical")])
    await dispatcher.flush_due()
    [incident] = await incidents(service)
    assert incident.group_key is not None
    assert (await _escalation(database, incident.group_key)).status == "open"
    clock.advance(45)
    async with database.session() as session:
        _row, changed = await service.acknowledge(
            session, incident.public_id, by="bob", reason="mine"
        )
    assert changed
    escalation = await _escalation(database, incident.group_key)
    assert (escalation.status, escalation.acknowledged_by) == ("acknowledged", "bob")
    found = await detail(service, incident.public_id)
    assert kinds(found).count("acknowledged") == 1  # the escalator's hook adds no second
    assert found.incident.acknowledged_at == utc_datetime(clock.now())
    async with database.session() as session:
        _row, changed = await service.acknowledge(session, incident.public_id, by="c", reason=None)
    assert not changed
    clock.advance(3600)
    assert await escalator.run_due() == 0  # nobody is paged any more
