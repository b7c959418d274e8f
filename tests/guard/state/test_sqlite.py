"""The SQLite file back end: shared by processes, and failing loudly on a bad file."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
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

from ._opener import RecordingSwitch
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


# Each open races only briefly, so the tests repeat it on fresh files.
THREAD_ROUNDS = 200
PROCESS_ROUNDS = 40


def open_at_once(backends: list[SQLiteBackend]) -> list[RecordingSwitch]:
    """Start a watching switch on each back end, each in its own thread, all released at once."""
    start = threading.Barrier(len(backends))
    switches: list[RecordingSwitch] = []

    def open_one(backend: SQLiteBackend) -> None:
        start.wait()
        switches.append(RecordingSwitch(backend))

    threads = [threading.Thread(target=open_one, args=(b,)) for b in backends]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return switches


def test_threads_opening_a_new_file_at_once_never_find_it_unavailable(tmp_path: Path) -> None:
    outages: list[Exception] = []
    states: set[TradingState] = set()
    for round_ in range(THREAD_ROUNDS):
        path = tmp_path / str(round_) / "state.db"
        backends = [SQLiteBackend(path, poll_interval_s=0.01) for _ in range(3)]
        switches = open_at_once(backends)
        # A watch delivers once it is set up; only then is it past the race.
        assert all(switch.delivered.wait(timeout=30.0) for switch in switches)
        for backend in backends:
            backend.close()
        outages += [error for switch in switches for error in switch.outages]
        states |= {switch.state for switch in switches}
    assert outages == []
    assert states == {TradingState.ACTIVE}


OPENER = Path(__file__).with_name("_opener.py")


def test_processes_opening_a_new_file_at_once_never_find_it_unavailable(
    tmp_path: Path,
) -> None:
    openers = [
        subprocess.Popen(
            [sys.executable, str(OPENER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    try:
        pipes = [(opener.stdin, opener.stdout) for opener in openers]
        for _, out in pipes:  # each has imported everything
            assert out is not None
            assert out.readline().strip() == "ready"
        for round_ in range(PROCESS_ROUNDS):
            path = tmp_path / f"state-{round_}.db"
            for into, _ in pipes:  # release them together
                assert into is not None
                into.write(f"{path}\n")
                into.flush()
            for _, out in pipes:  # every one is set up before the next round
                assert out is not None
                assert out.readline().strip() == "open"
        reports = [opener.communicate(timeout=60)[0].strip() for opener in openers]
    finally:
        for opener in openers:
            if opener.poll() is None:
                opener.kill()
                opener.wait()
    assert reports == ["0 ACTIVE"] * len(openers)
