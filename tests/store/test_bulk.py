"""Database.upsert: several tables in one transaction; on a SQLite file through its own
writer thread, storing exactly what the session path stores."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError, IntegrityError, StatementError

from tradewarden.store import Database
from tradewarden.store._alerting import AlertGroupRow, AlertRow, alert_upsert, group_upsert
from tradewarden.store._bulk import upsert_statement


def _alert_row(fingerprint: str, **changes: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "fingerprint": fingerprint,
        "labels": {"alertname": "Down", "ünï": "cödé", "quote": 'a"b'},
        "annotations": {"summary": "it broke", "n": "1"},
        # Not UTC, with microseconds: stored as UTC, to the microsecond.
        "starts_at": datetime(2026, 12, 2, 3, 4, 5, 678901, tzinfo=timezone(timedelta(hours=2))),
        "ends_at": None,
        "generator_url": "http://prometheus/graph?g0.expr=up",
        "source": "prometheus",
        "updated_at": datetime(2026, 12, 2, 1, 4, 5, tzinfo=UTC),
    }
    return {**row, **changes}


def _group_row(key: str, **changes: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "key": key,
        "route_id": "0",
        "labels": {"alertname": "Down"},
        "notified": {},
        "sequence": 0,
        "next_flush_at": datetime(2026, 12, 2, 1, 5, tzinfo=UTC),
        "last_flush_at": None,
        "created_at": datetime(2026, 12, 2, 1, 4, tzinfo=UTC),
    }
    return {**row, **changes}


async def _raw(database: Database, table: str, key: str) -> dict[str, tuple[Any, ...]]:
    async with database.read_session() as session:
        query = text(f"SELECT * FROM {table} ORDER BY {key}")  # noqa: S608 - the tests' names
        result = await session.execute(query)
        rows = [tuple(r) for r in result.all()]
        names = list(result.keys())
    at = names.index(key)
    return {r[at]: r[:at] + r[at + 1 :] for r in rows}


async def test_what_upsert_stores_is_what_the_session_path_stores(database: Database) -> None:
    async with database.session() as session:
        statement = upsert_statement(
            AlertRow.__table__, database.backend, "fingerprint", tuple(_alert_row("s"))
        )
        await session.execute(statement, [_alert_row("s")])
    await database.upsert([alert_upsert([_alert_row("u")])])
    stored = await _raw(database, "alerts", "fingerprint")
    assert stored["u"] == stored["s"]
    async with database.read_session() as session:
        row = await session.get(AlertRow, "u")
    assert row is not None
    assert row.starts_at == datetime(2026, 12, 2, 1, 4, 5, 678901, tzinfo=UTC)
    assert row.ends_at is None
    assert row.labels == _alert_row("u")["labels"]


async def test_a_stored_row_is_replaced_by_its_key(database: Database) -> None:
    await database.upsert([alert_upsert([_alert_row("a"), _alert_row("b")])])
    ends = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)
    await database.upsert([alert_upsert([_alert_row("a", ends_at=ends, labels={"x": "y"})])])
    async with database.read_session() as session:
        rows = {r.fingerprint: r for r in (await session.scalars(select(AlertRow))).all()}
    assert set(rows) == {"a", "b"}
    assert rows["a"].ends_at == ends
    assert rows["a"].labels == {"x": "y"}
    assert rows["b"].ends_at is None


async def test_tables_are_written_in_one_transaction(database: Database) -> None:
    bad_group = _group_row("g", route_id=None)  # NOT NULL: the store refuses it
    with pytest.raises(IntegrityError):
        await database.upsert(
            [alert_upsert([_alert_row("a")]), group_upsert([_group_row("ok"), bad_group])]
        )
    assert await _raw(database, "alerts", "fingerprint") == {}
    assert await _raw(database, "alert_groups", "key") == {}
    # The writer is still usable after a refused transaction.
    await database.upsert([alert_upsert([_alert_row("a")]), group_upsert([_group_row("ok")])])
    assert set(await _raw(database, "alerts", "fingerprint")) == {"a"}
    assert set(await _raw(database, "alert_groups", "key")) == {"ok"}


async def test_a_naive_datetime_is_refused_before_anything_is_written(database: Database) -> None:
    with pytest.raises((ValueError, StatementError), match="naive datetime"):
        await database.upsert(
            [
                alert_upsert([_alert_row("a")]),
                group_upsert([_group_row("g", created_at=datetime(2026, 12, 2))]),  # noqa: DTZ001
            ]
        )
    assert await _raw(database, "alerts", "fingerprint") == {}


async def test_a_missing_table_raises_the_stores_error(database: Database) -> None:
    async with database.session() as session:
        await session.execute(text("ALTER TABLE alerts RENAME TO alerts_away"))
    try:
        with pytest.raises(DBAPIError):
            await database.upsert([alert_upsert([_alert_row("a")])])
    finally:
        async with database.session() as session:
            await session.execute(text("ALTER TABLE alerts_away RENAME TO alerts"))
    await database.upsert([alert_upsert([_alert_row("a")])])
    assert set(await _raw(database, "alerts", "fingerprint")) == {"a"}


async def test_the_sqlite_writer_waits_for_another_writers_lock(
    database: Database, backend: str
) -> None:
    if backend != "sqlite":
        pytest.skip("the writer thread is SQLite's")
    assert database.writer is not None
    async with database.session() as session:  # BEGIN IMMEDIATE: the write lock is held
        await session.execute(
            upsert_statement(AlertGroupRow.__table__, "sqlite", "key", tuple(_group_row("s"))),
            [_group_row("s")],
        )
        writing = asyncio.create_task(database.upsert([group_upsert([_group_row("w")])]))
        for _ in range(20):
            await asyncio.sleep(0)
        assert not writing.done()  # it cannot commit while the session holds the lock
    await writing  # no "database is locked": it waited, then wrote
    assert set(await _raw(database, "alert_groups", "key")) == {"s", "w"}
    assert database.writer.transactions == 1


async def test_an_empty_upsert_writes_nothing(database: Database) -> None:
    await database.upsert([alert_upsert([]), group_upsert([])])
    if database.writer is not None:
        assert database.writer.transactions == 0
