"""Upserts of many rows into several tables as one transaction, the hot write of ingest.

On a SQLite file, SQLAlchemy's aiosqlite adaptation hands every driver call to the
connection's thread and back: a cursor, ``BEGIN``, each statement, its cursor's close,
``COMMIT`` and the pool's reset are eight or nine hand-offs for one batch of alerts, and
each costs a wake-up of the event loop (about 2 ms of a 64-alert ingest, more than SQLite's
own work). :class:`SqliteWriter` keeps a connection of its own in a thread of its own and
runs a whole transaction there in one hand-off, with its values encoded beforehand exactly
as SQLAlchemy's bind processors would store them (a test compares the two). SQLite
serialises it with every other writer by its write lock (``BEGIN IMMEDIATE`` and the
busy timeout, as the engine's connections do), and a driver error is raised wrapped as
SQLAlchemy wraps it, so callers see one family of errors whichever path wrote.

PostgreSQL (asyncpg has no thread in between) and in-memory SQLite keep the session path:
the same statement, one ``executemany`` per table, in one transaction.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import JSON, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError

from tradewarden.store._models import UtcDateTime

__all__ = ["SqliteWriter", "Upsert", "upsert_statement"]

# SQLAlchemy's SQLite DATETIME storage format (sqlalchemy.dialects.sqlite.DATETIME).
_DATETIME = "%04d-%02d-%02d %02d:%02d:%02d.%06d"


@dataclass(frozen=True, slots=True)
class Upsert:
    """Rows to insert into ``table``, each replacing the stored row of the same ``key``.

    Every row holds the same columns (the first row's keys are the column list).
    """

    table: Table
    key: str
    rows: Sequence[Mapping[str, Any]]


@functools.lru_cache(maxsize=64)
def upsert_statement(table: Table, dialect: str, key: str, columns: tuple[str, ...]) -> Any:
    """Return the upsert of ``columns`` into ``table`` by ``key``, built once: building it
    and its cache key cost more than running it for a batch of rows."""
    insert: Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
    # The table, not the mapped class: a Core executemany, without the ORM's bulk insert
    # bookkeeping per row.
    statement = insert(table)
    return statement.on_conflict_do_update(
        index_elements=[key],
        set_={c: getattr(statement.excluded, c) for c in columns if c != key},
    )


def _json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def _utc_datetime(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:  # as UtcDateTime refuses it
        raise ValueError("naive datetime given to the store: pass an aware UTC datetime")
    v = value.astimezone(UTC)
    return _DATETIME % (v.year, v.month, v.day, v.hour, v.minute, v.second, v.microsecond)


@dataclass(frozen=True, slots=True)
class _Encoded:
    """A table's upsert as SQLite text and one encoder per parameter, in parameter order."""

    sql: str
    columns: tuple[str, ...]
    encoders: tuple[Callable[[Any], Any] | None, ...]


@functools.lru_cache(maxsize=64)
def _encoded(table: Table, key: str, columns: tuple[str, ...], dialect: Dialect) -> _Encoded:
    compiled = upsert_statement(table, "sqlite", key, columns).compile(dialect=dialect)
    order = tuple(compiled.positiontup or ())
    encoders: list[Callable[[Any], Any] | None] = []
    for name in order:
        column_type = table.c[name].type
        if isinstance(column_type, UtcDateTime):
            encoders.append(_utc_datetime)
        elif isinstance(column_type, JSON):
            encoders.append(_json)
        else:  # strings and integers pass as they are; anything else as SQLAlchemy binds it
            encoders.append(column_type.bind_processor(dialect))
    return _Encoded(str(compiled), order, tuple(encoders))


def encode(upsert: Upsert, dialect: Dialect) -> tuple[str, list[tuple[Any, ...]]]:
    """Return ``upsert`` as SQLite text and its rows as driver values."""
    spec = _encoded(upsert.table, upsert.key, tuple(upsert.rows[0]), dialect)
    pairs = tuple(zip(spec.columns, spec.encoders, strict=True))
    return spec.sql, [
        tuple(row[c] if e is None else e(row[c]) for c, e in pairs) for row in upsert.rows
    ]


class SqliteWriter:
    """One SQLite connection in one thread; a transaction of upserts is one hand-off."""

    def __init__(self, path: str, dialect: Dialect, *, busy_timeout_s: float) -> None:
        self._path = path
        self._dialect = dialect
        self._busy_timeout_s = busy_timeout_s
        # Started at the first write, stopped by close (a disposed Database may be used again,
        # as its engine may).
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._connection: sqlite3.Connection | None = None
        self.transactions = 0  # committed, for tests and metrics

    async def upsert(self, upserts: Sequence[Upsert]) -> None:
        """Write every upsert in one transaction; raise SQLAlchemy's wrapped errors."""
        batches = [encode(u, self._dialect) for u in upserts if u.rows]
        if not batches:
            return
        if self._executor is None:
            self._executor = concurrent.futures.ThreadPoolExecutor(
                max_workers=1, thread_name_prefix="tradewarden-sqlite-writer"
            )
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._write, batches)
        self.transactions += 1

    async def close(self) -> None:
        """Close the connection and stop the thread."""
        executor, self._executor = self._executor, None
        if executor is not None:
            await asyncio.get_running_loop().run_in_executor(executor, self._close)
            executor.shutdown(wait=True)

    # --- in the writer's thread --------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None:
            connection = sqlite3.connect(
                self._path, timeout=self._busy_timeout_s, isolation_level=None
            )
            try:  # the engine's pragmas (store/_database.py)
                connection.execute("PRAGMA journal_mode=WAL")
                connection.execute("PRAGMA foreign_keys=ON")
                connection.execute("PRAGMA synchronous=NORMAL")
                connection.execute(f"PRAGMA busy_timeout={int(self._busy_timeout_s * 1000)}")
            except sqlite3.Error:
                connection.close()
                raise
            self._connection = connection
        return self._connection

    def _write(self, batches: list[tuple[str, list[tuple[Any, ...]]]]) -> None:
        sql = "BEGIN IMMEDIATE"
        try:
            connection = self._connect()
            connection.execute(sql)
            try:
                for sql, rows in batches:
                    connection.executemany(sql, rows)
                sql = "COMMIT"
                connection.execute(sql)
            except BaseException:
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise DBAPIError.instance(sql, None, exc, sqlite3.Error, dialect=self._dialect) from exc

    def _close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
