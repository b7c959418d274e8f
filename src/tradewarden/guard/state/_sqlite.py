"""The file back end: one SQLite file shared by every process on the machine.

Each change is one row (the table is the history); a write is ``BEGIN IMMEDIATE``, a
compare of the highest version, an insert and a commit, so two processes racing both see
a consistent order and one of them gets ``VersionConflictError``. WAL lets readers run while a
writer commits; ``synchronous=FULL`` because a kill that vanishes on power loss is worse
than a slow write (writes are rare). Other processes notice a change by polling
``PRAGMA data_version``, which changes when another connection commits and costs no
file read: a poll every ``poll_interval_s`` (0.1 s) keeps convergence well under 1 s.

Setting up a new file races: switching it to WAL needs an exclusive lock and SQLite
answers "database is locked" at once, without waiting, when another connection is setting
it up too. So the set-up switches to WAL only when the file is not in WAL yet, creates the
table under ``BEGIN IMMEDIATE`` (which waits out ``busy_timeout_s``), and retries a lock
within that budget; a poll that meets a lock counts it as a loss only once it lasted
longer than the budget.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from tradewarden.guard.state._errors import StateUnavailableError, VersionConflictError
from tradewarden.guard.state._guarded import WatchThread
from tradewarden.guard.state._port import StateWatcher, Subscription
from tradewarden.guard.state._record import INITIAL_STATE, StateChange

__all__ = ["SQLiteBackend"]

_T = TypeVar("_T")

_SQLITE_BUSY = 5
_SQLITE_LOCKED = 6
_SET_UP_FIRST_WAIT_S = 0.005
_SET_UP_MAX_WAIT_S = 0.1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS trading_state_changes (
    version INTEGER PRIMARY KEY,
    state TEXT NOT NULL,
    actor TEXT NOT NULL,
    reason TEXT NOT NULL,
    message TEXT NOT NULL,
    changed_at REAL NOT NULL
)
"""
_HAS_TABLE = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'trading_state_changes'"
_COLUMNS = "version, state, actor, reason, message, changed_at"
_CURRENT = f"SELECT {_COLUMNS} FROM trading_state_changes ORDER BY version DESC LIMIT 1"  # noqa: S608 -- constant


_INSERT = f"INSERT INTO trading_state_changes ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)"  # noqa: S608 -- constant


def _is_busy(exc: BaseException) -> bool:
    """Say whether ``exc`` is another connection holding a lock (not a bad file)."""
    code = getattr(exc, "sqlite_errorcode", None)
    return isinstance(code, int) and (code & 0xFF) in (_SQLITE_BUSY, _SQLITE_LOCKED)


def _row_to_change(row: tuple[object, ...]) -> StateChange:
    names = ("version", "state", "actor", "reason", "message", "changed_at")
    return StateChange.from_fields(dict(zip(names, row, strict=True)))


class _Watch(WatchThread):
    """One polling thread with its own connection."""

    def __init__(self, backend: SQLiteBackend, watcher: StateWatcher) -> None:
        self._backend = backend
        super().__init__(watcher, backend.path.name)

    def _run(self) -> None:
        conn: sqlite3.Connection | None = None
        data_version: int | None = None
        delivered: int | None = None
        failing = False
        busy_since: float | None = None
        while not self._stop.is_set():
            try:
                if conn is None:
                    conn = self._backend._connect()
                    data_version = None
                (now_version,) = conn.execute("PRAGMA data_version").fetchone()
                if now_version != data_version or failing:
                    data_version = now_version
                    row = conn.execute(_CURRENT).fetchone()
                    change = _row_to_change(row) if row else INITIAL_STATE
                    if change.version != delivered or failing:
                        failing = False
                        delivered = change.version
                        self._watcher.state_changed(change)
                busy_since = None
            except (sqlite3.Error, StateUnavailableError) as exc:
                if _is_busy(exc) and not failing:
                    # Another connection holds a lock for a moment (setting the file up,
                    # a checkpoint): the state is not lost unless the lock outlasts the
                    # budget. The connection is kept; it is not broken.
                    now = time.monotonic()
                    busy_since = now if busy_since is None else busy_since
                    if now - busy_since < self._backend._busy_timeout_s:
                        self._stop.wait(self._backend.poll_interval_s)
                        continue
                busy_since = None
                if conn is not None:
                    with contextlib.suppress(sqlite3.Error):
                        conn.close()
                    conn = None
                if not failing:
                    failing = True
                    error = exc if isinstance(exc, StateUnavailableError) else _unavailable(exc)
                    self._watcher.state_unavailable(error)
            self._stop.wait(self._backend.poll_interval_s)
        if conn is not None:
            conn.close()


def _unavailable(exc: sqlite3.Error) -> StateUnavailableError:
    error = StateUnavailableError(f"trading state file cannot be used: {exc}")
    error.__cause__ = exc
    return error


class SQLiteBackend:
    """Keep the trading state in a SQLite file; safe for many processes on one machine.

    Nothing is opened until first use, so a missing, unreadable or corrupt file surfaces
    as ``StateUnavailableError`` from ``load``, where the kill switch fails closed.
    """

    def __init__(
        self, path: str | Path, *, poll_interval_s: float = 0.1, busy_timeout_s: float = 5.0
    ) -> None:
        if poll_interval_s <= 0:
            raise ValueError("poll_interval_s must be positive")
        self.path = Path(path)
        self.poll_interval_s = poll_interval_s
        self._busy_timeout_s = busy_timeout_s
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._watches: list[_Watch] = []

    def load(self) -> StateChange | None:
        """Return the newest stored change, or None."""
        with self._lock:
            row = self._run(lambda conn: conn.execute(_CURRENT).fetchone())
        return _row_to_change(row) if row else None

    def write(self, change: StateChange, *, expected_version: int) -> None:
        """Insert ``change`` if the newest stored version is ``expected_version``."""
        if change.version <= expected_version:
            raise ValueError("a new change must have a higher version")

        row = (
            change.version,
            change.state.name,
            change.actor,
            change.reason,
            change.message,
            change.changed_at,
        )

        def insert(conn: sqlite3.Connection) -> int:
            conn.execute("BEGIN IMMEDIATE")
            committed = False
            try:
                (current,) = conn.execute(
                    "SELECT COALESCE(MAX(version), 0) FROM trading_state_changes"
                ).fetchone()
                if current == expected_version:
                    conn.execute(_INSERT, row)
                    conn.execute("COMMIT")
                    committed = True
            finally:
                if not committed:
                    conn.execute("ROLLBACK")
            return int(current)

        with self._lock:
            current = self._run(insert)
        if current != expected_version:
            raise VersionConflictError(expected_version, current)

    def history(self, limit: int = 100) -> list[StateChange]:
        """Return up to ``limit`` stored changes, newest first."""
        query = f"SELECT {_COLUMNS} FROM trading_state_changes ORDER BY version DESC LIMIT ?"  # noqa: S608 -- constant
        with self._lock:
            rows = self._run(lambda conn: conn.execute(query, (limit,)).fetchall())
        return [_row_to_change(row) for row in rows]

    def watch(self, watcher: StateWatcher) -> Subscription:
        """Poll the file in a thread of its own and tell ``watcher`` about changes."""
        watch = _Watch(self, watcher)
        with self._lock:
            self._watches.append(watch)
        return watch

    def close(self) -> None:
        """Stop the watches and close the connection."""
        with self._lock:
            watches, self._watches = self._watches, []
            conn, self._conn = self._conn, None
        for watch in watches:
            watch.close()
        if conn is not None:
            conn.close()

    def _connect(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                self.path,
                timeout=self._busy_timeout_s,
                isolation_level=None,  # transactions are begun explicitly
                check_same_thread=False,  # used under self._lock
            )
        except (OSError, sqlite3.Error) as exc:
            raise StateUnavailableError(
                f"trading state file {self.path} cannot be opened: {exc}"
            ) from exc
        try:
            self._set_up(conn)
        except sqlite3.Error as exc:
            conn.close()
            raise StateUnavailableError(
                f"trading state file {self.path} cannot be used: {exc}"
            ) from exc
        return conn

    def _set_up(self, conn: sqlite3.Connection) -> None:
        """Put the file in WAL and create the table once, retrying a lock within the budget."""
        deadline = time.monotonic() + self._busy_timeout_s
        wait_s = _SET_UP_FIRST_WAIT_S
        while True:
            try:
                conn.execute("PRAGMA synchronous=FULL")
                # Only the first connection switches: the switch fails at once, without
                # the busy timeout, while any other connection has the file open.
                if conn.execute("PRAGMA journal_mode").fetchone() != ("wal",):
                    conn.execute("PRAGMA journal_mode=WAL")
                if conn.execute(_HAS_TABLE).fetchone() is None:
                    # IMMEDIATE takes the write lock first, so a second creator waits
                    # (busy timeout) instead of failing at the read-to-write upgrade.
                    conn.execute("BEGIN IMMEDIATE")
                    conn.execute(_SCHEMA)
                    conn.execute("COMMIT")
            except sqlite3.Error as exc:
                if conn.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                if not _is_busy(exc) or time.monotonic() + wait_s > deadline:
                    raise
            else:
                return
            time.sleep(wait_s)
            wait_s = min(wait_s * 2, _SET_UP_MAX_WAIT_S)

    def _run(self, work: Callable[[sqlite3.Connection], _T]) -> _T:
        """Run ``work`` on the shared connection (caller holds the lock); map failures."""
        if self._conn is None:
            self._conn = self._connect()
        try:
            return work(self._conn)
        except sqlite3.Error as exc:
            # A broken file or connection: start afresh next time.
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()
            self._conn = None
            raise _unavailable(exc) from exc
