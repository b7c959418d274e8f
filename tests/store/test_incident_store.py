"""The incidents' store: migration 0008 up and down, numbers per year, the timeline."""

from __future__ import annotations

import asyncio

from alembic import command
from alembic.config import Config
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from tradewarden.clock import utc_datetime
from tradewarden.store import Database, IncidentRepository, current_revision, head_revision
from tradewarden.store._migrate import _MIGRATIONS

INCIDENT_TABLES = {
    "incidents",
    "incident_alerts",
    "incident_timeline",
    "incident_action_items",
    "incident_sequences",
}
AT = utc_datetime(1_800_000_000)


async def _migrate(database: Database, direction: str, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))

    def _run(connection: Connection) -> None:
        config.attributes["connection"] = connection
        getattr(command, direction)(config, revision)

    async with database.engine.begin() as connection:
        await connection.run_sync(_run)


async def _tables(database: Database) -> set[str]:
    async with database.engine.connect() as connection:
        return set(await connection.run_sync(lambda c: inspect(c).get_table_names()))


async def test_migration_0008_downgrades_and_upgrades_again(database_url: str) -> None:
    database = Database(database_url)
    try:
        assert await _tables(database) >= INCIDENT_TABLES
        await _migrate(database, "downgrade", "0007")
        assert await current_revision(database) == "0007"
        assert not INCIDENT_TABLES & await _tables(database)
        await _migrate(database, "upgrade", "head")
        assert await current_revision(database) == head_revision()
        assert await _tables(database) >= INCIDENT_TABLES
    finally:
        await database.dispose()


async def test_numbers_count_per_year(database_url: str) -> None:
    database = Database(database_url)
    try:
        async with database.session() as session:
            repo = IncidentRepository(session)
            taken = [await repo.next_number(2026) for _ in range(3)]
            taken.append(await repo.next_number(2027))
        assert taken == [1, 2, 3, 1]
    finally:
        await database.dispose()


async def test_a_rolled_back_opening_gives_its_number_back(database_url: str) -> None:
    database = Database(database_url)
    try:
        async with database.sessions() as session:
            assert await IncidentRepository(session).next_number(2026) == 1
            await session.rollback()
        async with database.session() as session:
            assert await IncidentRepository(session).next_number(2026) == 1
    finally:
        await database.dispose()


async def test_concurrent_openings_get_distinct_numbers(database_url: str) -> None:
    database = Database(database_url)

    async def take() -> int:
        async with database.session() as session:
            number = await IncidentRepository(session).next_number(2026)
            await asyncio.sleep(0.05)  # overlap the transactions: the others must wait, not reuse
            return number

    try:
        numbers = await asyncio.gather(*(take() for _ in range(5)))
        assert sorted(numbers) == [1, 2, 3, 4, 5]
    finally:
        await database.dispose()


def test_the_timeline_repository_can_only_append_and_read() -> None:
    methods = {name for name in vars(IncidentRepository) if not name.startswith("_")}
    timeline_writers = {name for name in methods if "timeline" in name or name == "append"}
    assert timeline_writers == {"append", "timeline"}
    assert not {n for n in methods if n.startswith(("update", "delete", "remove", "edit"))}
