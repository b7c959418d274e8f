"""Every back end keeps the same contract: versioned compare-and-set, history, watch."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from guard.state._fixtures import SHARED_REDIS_URL
from support.eventually import eventually
from tradewarden.guard.state import (
    INITIAL_STATE,
    MemoryBackend,
    RedisBackend,
    SQLiteBackend,
    StateBackend,
    StateChange,
    StateUnavailableError,
    TradingState,
    VersionConflictError,
)

from ._watchers import RecordingWatcher


def change(version: int, state: TradingState = TradingState.HALTED) -> StateChange:
    return StateChange(version, state, "operator:alice", "test", f"change {version}", 1.0e9)


@pytest.fixture(params=["memory", "sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StateBackend]:
    made: StateBackend
    if request.param == "memory":
        made = MemoryBackend()
    elif request.param == "sqlite":
        made = SQLiteBackend(tmp_path / "state.db", poll_interval_s=0.01)
    else:
        prefix = request.getfixturevalue("shared_redis_prefix")
        made = RedisBackend(SHARED_REDIS_URL, prefix=prefix)
    yield made
    made.close()


def test_an_empty_store_loads_nothing(backend: StateBackend) -> None:
    assert backend.load() is None
    assert backend.history() == []


def test_a_written_change_is_loaded_back_with_every_field(backend: StateBackend) -> None:
    first = change(1)
    backend.write(first, expected_version=0)
    assert backend.load() == first


def test_a_write_on_a_stale_version_conflicts_and_changes_nothing(
    backend: StateBackend,
) -> None:
    backend.write(change(1), expected_version=0)
    with pytest.raises(VersionConflictError) as info:
        backend.write(change(2, TradingState.ACTIVE), expected_version=0)
    assert info.value.current == 1
    assert backend.load() == change(1)


def test_history_is_newest_first_and_bounded_by_the_limit(backend: StateBackend) -> None:
    for version in range(1, 6):
        backend.write(change(version), expected_version=version - 1)
    assert [c.version for c in backend.history(limit=3)] == [5, 4, 3]


def test_a_version_that_does_not_grow_is_refused(backend: StateBackend) -> None:
    backend.write(change(1), expected_version=0)
    with pytest.raises(ValueError, match="higher version"):
        backend.write(change(1), expected_version=1)


async def test_watchers_are_told_about_every_write(backend: StateBackend) -> None:
    watcher = RecordingWatcher()
    subscription = backend.watch(watcher)
    backend.write(change(1), expected_version=0)
    backend.write(change(2, TradingState.ACTIVE), expected_version=1)
    await eventually(lambda: watcher.saw_version(2))
    assert watcher.last == change(2, TradingState.ACTIVE)
    subscription.close()


def test_a_failed_memory_store_is_unavailable_until_it_recovers() -> None:
    backend = MemoryBackend()
    watcher = RecordingWatcher()
    backend.watch(watcher)
    backend.fail()
    with pytest.raises(StateUnavailableError):
        backend.load()
    assert watcher.errors
    backend.recover()
    assert watcher.last == INITIAL_STATE
