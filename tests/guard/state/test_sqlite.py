"""The SQLite file back end: shared by processes, and failing loudly on a bad file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from support.eventually import eventually
from tradewarden.guard.state import (
    INITIAL_STATE,
    SQLiteBackend,
    StateChange,
    StateUnavailableError,
    TradingState,
    VersionConflictError,
)

from ._watchers import RecordingWatcher


def halt(version: int) -> StateChange:
    return StateChange(version, TradingState.HALTED, "operator:bob", "drill", "", 1.0e9)


def test_the_file_is_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    SQLiteBackend(path).load()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_two_back_ends_on_one_file_see_each_others_writes(tmp_path: Path) -> None:
    one = SQLiteBackend(tmp_path / "state.db")
    two = SQLiteBackend(tmp_path / "state.db")
    one.write(halt(1), expected_version=0)
    assert two.load() == halt(1)
    with pytest.raises(VersionConflictError):
        two.write(halt(1), expected_version=0)


async def test_a_watch_sees_a_write_from_another_connection(tmp_path: Path) -> None:
    watcher = RecordingWatcher()
    watching = SQLiteBackend(tmp_path / "state.db", poll_interval_s=0.01)
    watching.watch(watcher)
    await eventually(lambda: watcher.last == INITIAL_STATE)
    SQLiteBackend(tmp_path / "state.db").write(halt(1), expected_version=0)
    await eventually(lambda: watcher.saw_version(1))
    watching.close()


def test_a_corrupt_file_is_unavailable_not_empty(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    path.write_bytes(b"this is not a database, it is garbage" * 200)
    backend = SQLiteBackend(path)
    with pytest.raises(StateUnavailableError, match="not a database"):
        backend.load()
    with pytest.raises(StateUnavailableError):
        backend.write(halt(1), expected_version=0)


def test_a_path_that_cannot_be_opened_is_unavailable(tmp_path: Path) -> None:
    (tmp_path / "state.db").mkdir()
    with pytest.raises(StateUnavailableError, match="cannot be"):
        SQLiteBackend(tmp_path / "state.db").load()


def test_a_row_with_an_unknown_state_is_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    SQLiteBackend(path).write(halt(1), expected_version=0)
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE trading_state_changes SET state = 'PAUSED'")
    with pytest.raises(StateUnavailableError, match="unknown state"):
        SQLiteBackend(path).load()


async def test_a_watch_reports_a_file_going_bad_and_coming_back(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    SQLiteBackend(path).write(halt(1), expected_version=0)
    watcher = RecordingWatcher()
    backend = SQLiteBackend(path, poll_interval_s=0.01)
    backend.watch(watcher)
    await eventually(lambda: watcher.saw_version(1))
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE trading_state_changes SET state = 'PAUSED'")
    await eventually(lambda: bool(watcher.errors))
    count = len(watcher.changes)
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE trading_state_changes SET state = 'HALTED'")
    await eventually(lambda: len(watcher.changes) > count)
    assert watcher.last == halt(1)
    backend.close()


async def test_a_watcher_that_raises_does_not_end_the_watch(tmp_path: Path) -> None:
    class Flaky(RecordingWatcher):
        def state_changed(self, change: StateChange) -> None:
            super().state_changed(change)
            if change.version == 1:
                raise RuntimeError("bot bug")

    path = tmp_path / "state.db"
    watcher = Flaky()
    backend = SQLiteBackend(path, poll_interval_s=0.01)
    backend.watch(watcher)
    writer = SQLiteBackend(path)
    writer.write(halt(1), expected_version=0)
    await eventually(lambda: watcher.saw_version(1))
    writer.write(halt(2), expected_version=1)
    await eventually(lambda: watcher.saw_version(2))
    backend.close()
