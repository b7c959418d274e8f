"""The monitors table: stored specs are added once, replaced, deleted, listed by name."""

from __future__ import annotations

import pytest

from tradewarden.clock import utc_datetime
from tradewarden.errors import ConflictError
from tradewarden.store import Database, MonitorRepository

_SPEC = {"name": "api", "kind": "tcp", "host": "127.0.0.1", "port": 9}


async def test_a_stored_monitor_round_trips_its_spec(database: Database) -> None:
    async with database.session() as session:
        await MonitorRepository(session).add(
            name="api", kind="tcp", spec=_SPEC, by="user:ops", now=utc_datetime(10)
        )
    async with database.read_session() as session:
        (row,) = await MonitorRepository(session).all()
    assert (row.name, row.kind, row.spec) == ("api", "tcp", _SPEC)
    assert (row.created_by, row.updated_by) == ("user:ops", "user:ops")
    assert row.created_at == row.updated_at == utc_datetime(10)


async def test_a_taken_name_is_a_conflict_and_leaves_the_transaction_usable(
    database: Database,
) -> None:
    async with database.session() as session:
        await MonitorRepository(session).add(
            name="api", kind="tcp", spec=_SPEC, by="a", now=utc_datetime(0)
        )
    async with database.session() as session:
        repository = MonitorRepository(session)
        with pytest.raises(ConflictError, match="'api' already exists"):
            await repository.add(name="api", kind="tcp", spec=_SPEC, by="b", now=utc_datetime(1))
        await repository.add(
            name="other", kind="tcp", spec={**_SPEC, "name": "other"}, by="b", now=utc_datetime(1)
        )
    async with database.read_session() as session:
        rows = await MonitorRepository(session).all()
    assert [(row.name, row.created_by) for row in rows] == [("api", "a"), ("other", "b")]


async def test_replace_keeps_the_creation_and_delete_removes(database: Database) -> None:
    async with database.session() as session:
        await MonitorRepository(session).add(
            name="api", kind="tcp", spec=_SPEC, by="a", now=utc_datetime(0)
        )
    changed = {**_SPEC, "port": 10}
    async with database.session() as session:
        repository = MonitorRepository(session)
        row = await repository.get("api", for_update=True)
        assert row is not None
        await repository.replace(row, kind="tcp", spec=changed, by="b", now=utc_datetime(5))
    async with database.read_session() as session:
        row = await MonitorRepository(session).get("api")
    assert row is not None
    assert (row.spec, row.created_by, row.updated_by) == (changed, "a", "b")
    assert (row.created_at, row.updated_at) == (utc_datetime(0), utc_datetime(5))
    async with database.read_session() as session:
        assert await MonitorRepository(session).versions() == {"api": utc_datetime(5)}
    async with database.session() as session:
        repository = MonitorRepository(session)
        row = await repository.get("api", for_update=True)
        assert row is not None
        await repository.delete(row)
    async with database.read_session() as session:
        assert await MonitorRepository(session).all() == []
