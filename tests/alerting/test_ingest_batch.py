"""Ingest's group commit: concurrent calls share a transaction, each returns once its
alerts are stored, a failed write changes nothing in memory, and resends that only move
the end a little are not written (but never so seldom that a restart resolves them)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event, select, text

from alerting.conftest import DispatcherFactory, notifications
from tradewarden.alerting import Alert, Source
from tradewarden.alerting._dispatch import Dispatcher, is_unchanged_resend
from tradewarden.alerting._flush import GroupState
from tradewarden.clock import ManualClock
from tradewarden.series import Labels
from tradewarden.store import Database
from tradewarden.store._alerting import AlertRow

TREE: dict[str, Any] = {
    "receiver": "chat",
    "group_by": ["alertname"],
    "group_wait": "30s",
    "group_interval": "5m",
    "repeat_interval": "1h",
}
HORIZON_MS = 240_000  # Prometheus's end: four resend delays of one minute


def _now(clock: ManualClock) -> int:
    return int(clock.now() * 1000)


def _alert(
    clock: ManualClock, name: str = "Down", *, end_in_ms: int = HORIZON_MS, **labels: str
) -> Alert:
    now = _now(clock)
    return Alert(
        Labels.of({"alertname": name, **labels}),
        {"summary": "it broke"},
        starts_at_ms=now,
        ends_at_ms=now + end_in_ms,
        source=Source.PROMETHEUS,
    )


def _group(dispatcher: Dispatcher, name: str) -> GroupState:
    (group,) = [g for g in dispatcher.groups.values() if g.labels == {"alertname": name}]
    return group


async def _stored(database: Database) -> dict[str, AlertRow]:
    async with database.read_session() as session:
        rows = (await session.scalars(select(AlertRow))).all()
    return {row.fingerprint: row for row in rows}


class _Commits:
    """Transactions committed since made: the engine's, and the SQLite writer's."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.engine = 0
        self.writer_before = self._writer()

    def _writer(self) -> int:
        return self.database.writer.transactions if self.database.writer else 0

    @property
    def count(self) -> int:
        return self.engine + self._writer() - self.writer_before

    def __call__(self, *_args: Any) -> None:
        self.engine += 1


@pytest.fixture
def commits(database: Database) -> Iterator[_Commits]:
    counter = _Commits(database)
    event.listen(database.engine.sync_engine, "commit", counter)
    try:
        yield counter
    finally:
        event.remove(database.engine.sync_engine, "commit", counter)


# -- group commit ---------------------------------------------------------------------------


async def test_concurrent_ingests_share_one_transaction(
    make_dispatcher: DispatcherFactory, clock: ManualClock, database: Database, commits: _Commits
) -> None:
    dispatcher = make_dispatcher(TREE)
    calls = [[_alert(clock, instance=f"{n}-{i}") for i in range(3)] for n in range(10)]
    await asyncio.gather(*(dispatcher.ingest(batch) for batch in calls))
    assert commits.count == 1
    stored = await _stored(database)
    assert set(stored) == {a.fingerprint for batch in calls for a in batch}
    assert len(dispatcher.alerts) == 30
    assert _group(dispatcher, "Down").members == set(stored)


async def test_calls_queued_behind_a_busy_dispatcher_wait_for_their_own_commit(
    make_dispatcher: DispatcherFactory, clock: ManualClock, database: Database, commits: _Commits
) -> None:
    dispatcher = make_dispatcher(TREE)
    a, b = _alert(clock, instance="a"), _alert(clock, instance="b")
    async with dispatcher._lock:  # as a flush in progress holds it
        calls = [asyncio.create_task(dispatcher.ingest([x])) for x in (a, b)]
        for _ in range(20):
            await asyncio.sleep(0)
        assert not any(call.done() for call in calls)  # not stored yet: not answered
        assert await _stored(database) == {}
    await asyncio.gather(*calls)
    assert set(await _stored(database)) == {a.fingerprint, b.fingerprint}
    assert commits.count == 1


async def test_the_writer_keeps_draining_what_arrives_during_a_commit(
    make_dispatcher: DispatcherFactory,
    clock: ManualClock,
    database: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    dispatcher = make_dispatcher(TREE)
    later: list[asyncio.Task[None]] = []
    write = database.upsert

    async def arrive_during_the_write(upserts: Any) -> None:
        if not later:
            alert = _alert(clock, instance="later")
            later.append(asyncio.get_running_loop().create_task(dispatcher.ingest([alert])))
            await asyncio.sleep(0)  # it queues while this transaction is in flight
        await write(upserts)

    monkeypatch.setattr(database, "upsert", arrive_during_the_write)
    await dispatcher.ingest([_alert(clock, instance="first")])
    await later[0]
    assert len(await _stored(database)) == 2


# -- a failed write ---------------------------------------------------------------------------


async def test_a_failed_write_raises_in_every_caller_and_changes_nothing_in_memory(
    make_dispatcher: DispatcherFactory, clock: ManualClock, database: Database
) -> None:
    dispatcher = make_dispatcher(TREE)
    kept = _alert(clock, instance="kept")
    await dispatcher.ingest([kept])
    before_alerts, before_groups = dict(dispatcher.alerts), dict(dispatcher.groups)
    members = set(_group(dispatcher, "Down").members)
    async with database.session() as session:
        await session.execute(text("ALTER TABLE alerts RENAME TO alerts_away"))
    try:
        clock.advance(5)
        calls = [
            [_alert(clock, instance="new")],
            [_alert(clock, "Other", instance="x")],
            [Alert(kept.labels, {"summary": "changed"}, kept.starts_at_ms, kept.ends_at_ms)],
        ]
        outcomes = await asyncio.gather(
            *(dispatcher.ingest(call) for call in calls), return_exceptions=True
        )
        assert all(isinstance(outcome, Exception) for outcome in outcomes), outcomes
        assert dispatcher.alerts == before_alerts
        assert dispatcher.groups == before_groups
        assert _group(dispatcher, "Down").members == members
    finally:
        async with database.session() as session:
            await session.execute(text("ALTER TABLE alerts_away RENAME TO alerts"))
    clock.advance(30)
    assert await dispatcher.flush_due() == 1
    (row,) = await notifications(database)
    assert row.title == "[FIRING:1] Down"  # the group as it was: the failed calls left no trace
    await dispatcher.ingest(calls[0])  # the store is back: a retry is stored
    assert _alert(clock, instance="new").fingerprint in await _stored(database)


async def test_a_refused_caller_fails_alone_and_its_neighbours_are_stored(
    make_dispatcher: DispatcherFactory, clock: ManualClock, database: Database, backend: str
) -> None:
    dispatcher = make_dispatcher(TREE)
    async with _refusing_label(database, backend, "poison"):
        good = [[_alert(clock, instance="a")], [_alert(clock, instance="b")]]
        bad = [_alert(clock, instance="c", poison="yes")]
        outcomes = await asyncio.gather(
            dispatcher.ingest(good[0]),
            dispatcher.ingest(bad),
            dispatcher.ingest(good[1]),
            return_exceptions=True,
        )
    assert outcomes[0] is None
    assert outcomes[2] is None
    assert isinstance(outcomes[1], Exception)
    expected = {good[0][0].fingerprint, good[1][0].fingerprint}
    assert set(await _stored(database)) == expected
    assert set(dispatcher.alerts) == expected


class _refusing_label:  # noqa: N801 - used as a context manager, named for what it does
    """A trigger that makes the store refuse any alert carrying the label ``name``."""

    def __init__(self, database: Database, backend: str, name: str) -> None:
        self.database, self.backend, self.name = database, backend, name

    async def __aenter__(self) -> None:
        if self.backend == "postgresql":
            statements = [
                (
                    "CREATE FUNCTION tw_refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                    f"IF (NEW.labels::jsonb) ? '{self.name}' THEN "
                    "RAISE EXCEPTION 'refused' USING ERRCODE = 'check_violation'; END IF; "
                    "RETURN NEW; END $$"
                ),
                (
                    "CREATE TRIGGER tw_refuse BEFORE INSERT ON alerts FOR EACH ROW "
                    "EXECUTE FUNCTION tw_refuse()"
                ),
            ]
        else:
            statements = [
                (
                    "CREATE TRIGGER tw_refuse BEFORE INSERT ON alerts "
                    f"WHEN json_extract(NEW.labels, '$.{self.name}') IS NOT NULL "
                    "BEGIN SELECT RAISE(ABORT, 'refused'); END"
                )
            ]
        async with self.database.session() as session:
            for statement in statements:
                await session.execute(text(statement))

    async def __aexit__(self, *_exc: object) -> None:
        statements = [
            "DROP TRIGGER tw_refuse" + (" ON alerts" if self.backend == "postgresql" else "")
        ]
        if self.backend == "postgresql":
            statements.append("DROP FUNCTION tw_refuse()")
        async with self.database.session() as session:
            for statement in statements:
                await session.execute(text(statement))


# -- resends ----------------------------------------------------------------------------------


def test_a_resend_moving_only_the_end_a_little_is_unchanged(clock: ManualClock) -> None:
    old = _alert(clock)
    now = _now(clock) + 60_000
    new = Alert(old.labels, old.annotations, old.starts_at_ms, now + HORIZON_MS, source=old.source)
    assert is_unchanged_resend(old, new, old.ends_at_ms, now)
    # The stored end would cover less than half of the new horizon: write.
    late = now + 70_000
    newer = Alert(
        old.labels, old.annotations, old.starts_at_ms, late + HORIZON_MS, source=old.source
    )
    assert not is_unchanged_resend(old, newer, old.ends_at_ms, late)


@pytest.mark.parametrize(
    "change",
    [
        {"annotations": {"summary": "worse"}},
        {"starts_at_ms": 1},
        {"generator_url": "http://prometheus/graph"},
        {"source": Source.WEBHOOK},
    ],
)
def test_a_resend_changing_anything_else_is_written(
    clock: ManualClock, change: dict[str, Any]
) -> None:
    old = _alert(clock)
    fields: dict[str, Any] = {
        "labels": old.labels,
        "annotations": old.annotations,
        "starts_at_ms": old.starts_at_ms,
        "ends_at_ms": old.ends_at_ms,
        "source": old.source,
    }
    new = Alert(**{**fields, **change})
    assert not is_unchanged_resend(old, new, old.ends_at_ms, _now(clock) + 1000)


def test_a_resolution_or_an_earlier_end_is_written(clock: ManualClock) -> None:
    old = _alert(clock)
    now = _now(clock) + 1000
    ended = Alert(old.labels, old.annotations, old.starts_at_ms, now, source=old.source)
    assert not is_unchanged_resend(old, ended, old.ends_at_ms, now)
    assert old.ends_at_ms is not None
    earlier = Alert(
        old.labels, old.annotations, old.starts_at_ms, old.ends_at_ms - 1, source=old.source
    )
    assert not is_unchanged_resend(old, earlier, old.ends_at_ms, now)


async def test_resends_are_written_before_the_stored_end_gets_too_old(
    make_dispatcher: DispatcherFactory, clock: ManualClock, database: Database
) -> None:
    dispatcher = make_dispatcher(TREE)
    first = _alert(clock)
    await dispatcher.ingest([first])
    fp = first.fingerprint
    writes = 0
    last_end = (await _stored(database))[fp].ends_at
    for _ in range(30):  # half an hour of Prometheus resending every minute
        clock.advance(60)
        await dispatcher.ingest([_alert(clock)])
        stored_end = (await _stored(database))[fp].ends_at
        assert stored_end is not None
        if stored_end != last_end:
            writes += 1
            last_end = stored_end
        # Whatever was written, a restart now would see the alert firing for at least
        # half the horizon Prometheus gives it.
        assert stored_end.timestamp() * 1000 - _now(clock) >= HORIZON_MS / 2
        assert dispatcher.alerts[fp].ends_at_ms == _now(clock) + HORIZON_MS
    assert 0 < writes < 30


async def test_a_restart_after_unwritten_resends_keeps_the_alert_firing(
    make_dispatcher: DispatcherFactory, clock: ManualClock, database: Database
) -> None:
    dispatcher = make_dispatcher(TREE)
    await dispatcher.ingest([_alert(clock)])
    clock.advance(30)
    assert await dispatcher.flush_due() == 1
    for _ in range(5):
        clock.advance(60)
        await dispatcher.ingest([_alert(clock)])
    restarted = make_dispatcher(TREE)
    await restarted.load()
    clock.advance(HORIZON_MS / 2000)
    assert [a.name for a in restarted.active()] == ["Down"]
    clock.advance(300)
    await restarted.ingest([_alert(clock)])
    assert await restarted.flush_due() == 0  # nothing resolved, nothing sent again
    assert [r.event for r in await notifications(database)] == ["firing"]


async def test_a_resend_with_new_annotations_is_written_at_once(
    make_dispatcher: DispatcherFactory, clock: ManualClock, database: Database
) -> None:
    dispatcher: Dispatcher = make_dispatcher(TREE)
    first = _alert(clock)
    await dispatcher.ingest([first])
    clock.advance(10)
    changed = Alert(
        first.labels,
        {"summary": "worse"},
        first.starts_at_ms,
        _now(clock) + HORIZON_MS,
        source=first.source,
    )
    await dispatcher.ingest([changed])
    assert (await _stored(database))[first.fingerprint].annotations == {"summary": "worse"}
