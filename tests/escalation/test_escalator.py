"""The Escalator over the real store and outbox: steps fire on time through the webhooks,
an acknowledgement stops them, nothing is paged twice, another instance resumes."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest
from sqlalchemy import func, select, update

from escalation.conftest import PAGE, EscalatorFactory, alert, paths
from support.eventually import eventually
from support.notify_wire import WireServer
from tradewarden.clock import ManualClock, utc_datetime
from tradewarden.errors import ConflictError, NotFoundError
from tradewarden.escalation import Escalator, PolicyConfig, StepConfig
from tradewarden.notify import Notifier, Severity
from tradewarden.store import (
    Database,
    Escalation,
    EscalationRepository,
    Notification,
    OverrideRepository,
)


async def _deliver(notifier: Notifier) -> None:
    worker = notifier.worker()
    while await worker.run_once():
        pass


async def _notifications(database: Database) -> int:
    async with database.read_session() as session:
        return int(await session.scalar(select(func.count()).select_from(Notification)) or 0)


async def test_steps_fire_in_order_after_their_waits_and_an_ack_stops_them(
    make_escalator: EscalatorFactory, notifier: Notifier, wire: WireServer, clock: ManualClock
) -> None:
    escalator = make_escalator()
    row = await escalator.open("bot-down", alert(), PAGE)
    assert (row.status, row.step) == ("open", 0)

    assert await escalator.run_due() == 1  # step 1: chat and the primary (alice)
    await _deliver(notifier)
    assert sorted(paths(wire)) == ["/alice-hook", "/chat"]
    body = wire.of("webhook")[0].body
    assert "/v1/ack/" in str(body)  # the signed link is in the message

    clock.advance(14 * 60)
    assert await escalator.run_due() == 0  # not yet: 15 minutes unacknowledged
    clock.advance(60)
    assert await escalator.run_due() == 1  # step 2: the secondary (bob)
    await _deliver(notifier)
    assert paths(wire)[-1] == "/bob-hook"

    row, changed = await escalator.acknowledge("bot-down", by="alice", reason="on it")
    assert changed
    assert (row.status, row.acknowledged_by, row.ack_reason) == ("acknowledged", "alice", "on it")
    await _deliver(notifier)  # everyone paged hears it was acknowledged
    acks = [r for r in wire.of("webhook") if "ACKNOWLEDGED" in str(r.body)]
    assert sorted(r.path for r in acks) == ["/alice-hook", "/bob-hook", "/chat"]
    clock.advance(3600)
    assert await escalator.run_due() == 0
    again, changed = await escalator.acknowledge("bot-down", by="bob", reason=None)
    assert not changed
    assert again.acknowledged_by == "alice"


async def test_the_whole_policy_repeats_then_the_escalation_is_exhausted(
    make_escalator: EscalatorFactory, clock: ManualClock
) -> None:
    escalator = make_escalator()
    policy = PolicyConfig(
        name="loop", steps=(StepConfig(channels=("chat",), wait_minutes=5),), repeat=2
    )
    await escalator.open("k", alert(), policy)
    fired = 0
    for _ in range(5):
        fired += await escalator.run_due()
        clock.advance(5 * 60)
    assert fired == 3
    rows = [row for row in await _list(escalator) if row["key"] == "k"]
    assert rows[0]["status"] == "exhausted"


async def _list(escalator: Escalator) -> list[dict[str, Any]]:
    async with escalator.database.read_session() as session:
        return [
            {"key": row.key, "status": row.status, "fired": row.fired}
            for row in await EscalationRepository(session).list()
        ]


async def test_another_instance_resumes_the_stored_deadline_after_a_restart(
    make_escalator: EscalatorFactory,
    notifier: Notifier,
    wire: WireServer,
    clock: ManualClock,
    database_url: str,
) -> None:
    first = make_escalator()
    await first.open("bot-down", alert(), PAGE)
    await first.run_due()
    await first.database.dispose()  # the process is gone; only the store remains

    clock.advance(15 * 60)
    fresh = Database(database_url)
    try:
        second = make_escalator(fresh)
        assert await second.run_due() == 1
        await _deliver(notifier)
        assert sorted(paths(wire)) == ["/alice-hook", "/bob-hook", "/chat"]
    finally:
        await fresh.dispose()


async def test_a_step_that_failed_before_its_commit_fires_once_later(
    make_escalator: EscalatorFactory, notifier: Notifier, database: Database, wire: WireServer
) -> None:
    calls = 0

    async def crashing(*args: Any, **kwargs: Any) -> dict[str, int]:
        nonlocal calls
        calls += 1
        ids = await notifier.enqueue(*args, **kwargs)
        if calls == 1:
            raise OSError("killed after the enqueue, before the commit")
        return ids

    escalator = make_escalator(enqueue=crashing)
    await escalator.open("bot-down", alert(), PAGE)
    assert await escalator.run_due() == 0  # logged; the step stays due
    assert await _notifications(database) == 0  # rolled back with the step
    assert await escalator.run_due() == 1
    assert await escalator.run_due() == 0
    await _deliver(notifier)
    assert sorted(paths(wire)) == ["/alice-hook", "/chat"]


async def test_two_instances_fire_a_due_step_once(
    make_escalator: EscalatorFactory, database: Database, database_url: str
) -> None:
    other_db = Database(database_url)
    try:
        one, two = make_escalator(), make_escalator(other_db)
        await one.open("bot-down", alert(), PAGE)
        fired = await asyncio.gather(one.run_due(), two.run_due())
        assert sum(fired) == 1
        assert await _notifications(database) == 2  # chat and alice, once each
    finally:
        await other_db.dispose()


async def test_a_resolve_stops_it_and_a_new_firing_escalates_again(
    make_escalator: EscalatorFactory, database: Database, clock: ManualClock
) -> None:
    escalator = make_escalator()
    await escalator.open("bot-down", alert(), PAGE)
    await escalator.run_due()
    assert await escalator.resolve("bot-down")
    assert not await escalator.resolve("bot-down")
    clock.advance(3600)
    assert await escalator.run_due() == 0
    with pytest.raises(ConflictError):
        await escalator.acknowledge("bot-down", by="alice", reason=None)
    with pytest.raises(NotFoundError):
        await escalator.acknowledge("nothing", by="alice", reason=None)

    row = await escalator.open("bot-down", alert(), PAGE)  # it fires again
    assert (row.status, row.generation) == ("open", 1)
    assert await escalator.run_due() == 1
    assert await _notifications(database) == 4  # a new generation: new outbox keys


async def test_an_open_of_an_acknowledged_alert_keeps_the_acknowledgement(
    make_escalator: EscalatorFactory,
) -> None:
    escalator = make_escalator()
    await escalator.open("bot-down", alert(), PAGE)
    await escalator.acknowledge("bot-down", by="alice", reason="known")
    row = await escalator.open("bot-down", alert(), PAGE)
    assert row.status == "acknowledged"
    assert await escalator.run_due() == 0


async def test_a_stored_override_pages_the_replacement(
    make_escalator: EscalatorFactory,
    notifier: Notifier,
    database: Database,
    wire: WireServer,
    clock: ManualClock,
) -> None:
    now = utc_datetime(clock.now())
    escalator = make_escalator()
    escalator.check_override(
        schedule="ops",
        layer="primary",
        replaces="alice",
        replacement="carol",
        starts_at=now,
        ends_at=now + dt.timedelta(hours=1),
    )
    async with database.session() as session:
        await OverrideRepository(session).add(
            schedule="ops",
            layer="primary",
            replaces="alice",
            replacement="carol",
            starts_at=now,
            ends_at=now + dt.timedelta(hours=1),
            created_at=now,
            created_by="admin",
            reason="alice is on a plane",
        )
    assert await escalator.who_is_on_call("ops", "primary") == "carol"
    await escalator.open("bot-down", alert(), PAGE)
    await escalator.run_due()
    await _deliver(notifier)
    assert sorted(paths(wire)) == ["/carol-hook", "/chat"]


async def test_the_loop_fires_when_woken(
    make_escalator: EscalatorFactory, notifier: Notifier, wire: WireServer, clock: ManualClock
) -> None:
    escalator = make_escalator(poll_interval_s=3600)  # only wake-ups and deadlines drive it
    notifier.worker(poll_interval_s=0.01).start()
    escalator.start()
    try:
        await escalator.open("bot-down", alert(), PAGE)
        await eventually(lambda: sorted(paths(wire)) == ["/alice-hook", "/chat"])
        clock.advance(15 * 60)
        escalator.wake()
        await eventually(lambda: "/bob-hook" in paths(wire))
    finally:
        await escalator.stop()


async def test_escalate_picks_the_severitys_policy_or_the_seeds_default(
    make_escalator: EscalatorFactory, notifier: Notifier, wire: WireServer
) -> None:
    mine = PAGE.model_copy(update={"name": "mine", "severities": (Severity.P0,)})
    escalator = make_escalator(policies=(mine,))
    assert (await escalator.escalate("a", alert())).policy_name == "mine"
    p1 = alert("b").model_copy(update={"severity": Severity.P1})
    assert (await escalator.escalate("b", p1)).policy_name == "default-P1"
    assert await escalator.run_due() == 2
    await _deliver(notifier)
    # P0: the chat and the primary; P1 by the seeds: every schedule's primary.
    assert sorted(paths(wire)) == ["/alice-hook", "/alice-hook", "/chat"]


async def test_a_step_that_cannot_be_fired_does_not_hold_up_the_others(
    make_escalator: EscalatorFactory, database: Database
) -> None:
    escalator = make_escalator()
    await escalator.open("broken", alert("broken"), PAGE)
    await escalator.open("fine", alert("fine"), PAGE)
    async with database.session() as session:
        await session.execute(
            update(Escalation).where(Escalation.key == "broken").values(policy={"steps": "?"})
        )
    assert await escalator.run_due() == 1
    rows = {row["key"]: row["fired"] for row in await _list(escalator)}
    assert rows == {"broken": 0, "fine": 1}  # the broken one stays due, for an operator


async def test_a_key_too_long_for_the_store_is_refused(make_escalator: EscalatorFactory) -> None:
    with pytest.raises(ValueError, match="1 to 400 characters, not 401"):
        await make_escalator().open("k" * 401, alert(), PAGE)
