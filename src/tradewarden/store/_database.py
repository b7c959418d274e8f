"""The database port: one async engine per process, built at start-up."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Literal

import orjson
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.engine.url import URL
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from tradewarden.errors import ConfigError, StoreError
from tradewarden.store._bulk import SqliteWriter, Upsert, upsert_statement

__all__ = ["Backend", "Database", "normalise_database_url"]

Backend = Literal["sqlite", "postgresql"]

_SQLITE_BUSY_TIMEOUT_S = 15.0


def normalise_database_url(raw: str) -> URL:
    """Return the async-driver URL: ``postgresql://`` -> asyncpg, ``sqlite://`` -> aiosqlite."""
    try:
        url = make_url(raw)
    except ArgumentError as exc:
        raise ConfigError("DATABASE_URL: not a database URL") from exc
    backend = url.get_backend_name()
    if backend in {"postgres", "postgresql"}:
        return url.set(drivername="postgresql+asyncpg")
    if backend == "sqlite":
        return url.set(drivername="sqlite+aiosqlite")
    raise ConfigError(
        f"DATABASE_URL: unsupported database {backend!r} (use postgresql:// or sqlite:///)"
    )


class Database:
    """An async engine and its session factory, with a health check."""

    def __init__(self, url: str | URL, *, ping_timeout_s: float = 2.0, echo: bool = False) -> None:
        raw = url if isinstance(url, str) else url.render_as_string(hide_password=False)
        self.url = normalise_database_url(raw)
        self.backend: Backend = (
            "sqlite" if self.url.get_backend_name() == "sqlite" else "postgresql"
        )
        self._ping_timeout_s = ping_timeout_s
        self._writer: SqliteWriter | None = None
        # A server connection can die between uses (a restart, a failover): check it on
        # checkout. A SQLite file cannot, and the check would double every round trip.
        kwargs: dict[str, Any] = {"echo": echo, "pool_pre_ping": self.backend == "postgresql"}
        if self.backend == "sqlite":
            database = self.url.database
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"timeout": _SQLITE_BUSY_TIMEOUT_S}
        else:
            kwargs["connect_args"] = {"timeout": ping_timeout_s * 2, "command_timeout": 30}
            kwargs["pool_size"] = 10
            kwargs["max_overflow"] = 10
        # JSON columns (alert labels, messages, timelines) are written on every ingest:
        # orjson serialises them several times faster than the standard library.
        kwargs["json_serializer"] = _json_dumps
        kwargs["json_deserializer"] = orjson.loads
        self.engine: AsyncEngine = create_async_engine(self.url, **kwargs)
        if self.backend == "sqlite":
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
            event.listen(self.engine.sync_engine, "begin", _sqlite_begin)
            database = self.url.database
            if database and database != ":memory:" and not self.url.query:
                self._writer = SqliteWriter(
                    database, self.engine.dialect, busy_timeout_s=_SQLITE_BUSY_TIMEOUT_S
                )
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        # Reads begin deferred on SQLite, so they do not queue behind the write lock.
        self._read_engine = self.engine.execution_options(sqlite_begin="DEFERRED")
        self.read_sessions = async_sessionmaker(self._read_engine, expire_on_commit=False)

    @property
    def display_url(self) -> str:
        """Return the URL with its password masked."""
        return self.url.render_as_string(hide_password=True)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """Open a session that commits on success and rolls back on error."""
        async with self.sessions() as session:
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise

    @asynccontextmanager
    async def read_session(self) -> AsyncIterator[AsyncSession]:
        """Open a session for reads only: it never holds SQLite's write lock."""
        # Closing (not rolling back) ends the transaction and keeps loaded objects usable.
        async with self.read_sessions() as session:
            yield session

    @property
    def writer(self) -> SqliteWriter | None:
        """The SQLite file's own writer of :meth:`upsert`, or None (PostgreSQL, memory)."""
        return self._writer

    async def upsert(self, upserts: Sequence[Upsert]) -> None:
        """Insert or replace rows of several tables (each by its key) in one transaction.

        A SQLite file writes it in one hand-off to its writer thread (see store/_bulk.py);
        otherwise one session runs one ``executemany`` per table. Raises SQLAlchemy's
        errors either way; nothing is written when it raises.
        """
        upserts = [u for u in upserts if u.rows]
        if not upserts:
            return
        if self._writer is not None:
            await self._writer.upsert(upserts)
            return
        async with self.session() as session:
            for u in upserts:
                statement = upsert_statement(u.table, self.backend, u.key, tuple(u.rows[0]))
                await session.execute(statement, list(u.rows))

    async def ping(self) -> float:
        """Run ``SELECT 1``; return the latency in milliseconds or raise StoreError."""
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self._ping_timeout_s):
                async with self._read_engine.connect() as connection:
                    await connection.execute(text("SELECT 1"))
        except TimeoutError as exc:
            raise StoreError(f"database did not answer within {self._ping_timeout_s:g} s") from exc
        except (SQLAlchemyError, OSError) as exc:
            raise StoreError(_short_error(exc)) from exc
        return (time.perf_counter() - started) * 1000.0

    async def dispose(self) -> None:
        """Close every pooled connection (and the SQLite writer's)."""
        if self._writer is not None:
            await self._writer.close()
        await self.engine.dispose()


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def _short_error(exc: BaseException) -> str:
    """Return the first line of the driver's message, without SQL or parameters."""
    original = getattr(exc, "orig", None) or exc
    message = str(original).strip().splitlines()
    first = message[0] if message else type(original).__name__
    return f"{type(original).__name__}: {first}"[:300]


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # The sqlite3 module's own transaction handling breaks SAVEPOINTs (a RELEASE commits):
    # turn it off and begin transactions ourselves (see _sqlite_begin).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    # Writers begin IMMEDIATE, taking the write lock up front: two deferred transactions
    # that both read and then write fail at once with "database is locked" instead of
    # waiting for each other. Read-only sessions ask for DEFERRED (read_session, ping).
    mode = connection.get_execution_options().get("sqlite_begin", "IMMEDIATE")
    connection.exec_driver_sql(f"BEGIN {mode}")
