"""The store: migrations match the models, URLs, health checks, service values."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection

from support.net import free_port
from tradewarden.clock import utc_datetime
from tradewarden.errors import ConfigError, StoreError
from tradewarden.store import (
    Base,
    Database,
    MetaRepository,
    current_revision,
    head_revision,
    normalise_database_url,
    upgrade,
)


async def test_migrations_produce_exactly_the_models(database_url: str) -> None:
    database = Database(database_url)

    def _diff(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))

    try:
        async with database.engine.connect() as connection:
            assert await connection.run_sync(_diff) == []
        assert await current_revision(database) == head_revision()
    finally:
        await database.dispose()


async def test_upgrade_twice_is_a_no_op(database_url: str) -> None:
    database = Database(database_url)
    try:
        assert await upgrade(database) == head_revision()
        assert await upgrade(database) == head_revision()
    finally:
        await database.dispose()


async def test_fresh_sqlite_file_is_created_with_its_directory(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path}/deep/dir/tw.db")
    try:
        assert await current_revision(database) is None
        assert await upgrade(database) == head_revision()
        assert (tmp_path / "deep" / "dir" / "tw.db").exists()
    finally:
        await database.dispose()


@pytest.mark.parametrize(
    ("raw", "driver"),
    [
        ("postgresql://u@h/db", "postgresql+asyncpg"),
        ("postgres://u@h/db", "postgresql+asyncpg"),
        ("postgresql+psycopg://u@h/db", "postgresql+asyncpg"),
        ("sqlite:///x.db", "sqlite+aiosqlite"),
    ],
)
def test_urls_are_normalised_to_async_drivers(raw: str, driver: str) -> None:
    assert normalise_database_url(raw).drivername == driver


@pytest.mark.parametrize("raw", ["mysql://u@h/db", "not a url"])
def test_unsupported_urls_are_refused(raw: str) -> None:
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        normalise_database_url(raw)


def test_display_url_hides_the_password() -> None:
    database = Database("postgresql://user:hunter2@127.0.0.1/db")
    assert "hunter2" not in database.display_url
    asyncio.run(database.dispose())


async def test_ping_of_an_unreachable_server_raises_store_error() -> None:
    database = Database(f"postgresql://postgres@127.0.0.1:{free_port()}/x", ping_timeout_s=2)
    try:
        with pytest.raises(StoreError) as caught:
            await database.ping()
        assert caught.value.permanent is False
    finally:
        await database.dispose()


async def test_session_rolls_back_on_error(database_url: str) -> None:
    database = Database(database_url)
    try:

        async def _fail_after_write() -> None:
            async with database.session() as session:
                await MetaRepository(session).get_or_create("k", "v", now=utc_datetime(0))
                raise RuntimeError

        with pytest.raises(RuntimeError):
            await _fail_after_write()
        async with database.session() as session:
            assert await MetaRepository(session).get("k") is None
    finally:
        await database.dispose()


async def test_meta_value_is_created_once(database_url: str) -> None:
    database = Database(database_url)
    try:
        async with database.session() as session:
            first = await MetaRepository(session).get_or_create("key", "one", now=utc_datetime(0))
        async with database.session() as session:
            second = await MetaRepository(session).get_or_create("key", "two", now=utc_datetime(1))
        assert first == second == "one"
    finally:
        await database.dispose()


def test_naive_datetimes_are_refused() -> None:
    from datetime import datetime

    from tradewarden.store import UtcDateTime

    with pytest.raises(ValueError, match="naive"):
        UtcDateTime().process_bind_param(datetime(2026, 1, 1), None)  # type: ignore[arg-type]  # noqa: DTZ001


async def test_a_read_session_does_not_block_writers(database_url: str, backend: str) -> None:
    database = Database(database_url)
    try:
        async with database.read_session() as reader:
            assert await MetaRepository(reader).get("k") is None
            # On SQLite an IMMEDIATE reader would hold the write lock and this would fail
            # with "database is locked" after the busy timeout.
            async with database.session() as writer:
                await MetaRepository(writer).get_or_create("k", "v", now=utc_datetime(0))
        async with database.read_session() as reader:
            assert await MetaRepository(reader).get("k") == "v"
    finally:
        await database.dispose()
