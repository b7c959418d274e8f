"""The Redis back end: its layout by hand, publication, loss and re-sync on a real server."""

from __future__ import annotations

import subprocess
import sys

import pytest
import redis

from guard.state._fixtures import SHARED_REDIS_URL
from support.eventually import eventually
from support.redis_server import RedisServer
from tradewarden.guard.state import (
    RedisBackend,
    StateChange,
    StateUnavailableError,
    TradingState,
)

from ._watchers import RecordingWatcher

pytestmark = pytest.mark.redis


def halt(version: int) -> StateChange:
    return StateChange(version, TradingState.HALTED, "operator:carol", "drill", "", 1.0e9)


def test_the_layout_is_readable_by_hand(shared_redis_prefix: str) -> None:
    backend = RedisBackend(SHARED_REDIS_URL, prefix=shared_redis_prefix)
    backend.write(halt(1), expected_version=0)
    client = redis.Redis.from_url(SHARED_REDIS_URL, decode_responses=True)
    raw = client.get(f"{shared_redis_prefix}:state")
    assert raw is not None
    assert StateChange.from_json(raw) == halt(1)
    assert client.llen(f"{shared_redis_prefix}:history") == 1
    client.close()
    backend.close()


def test_history_is_trimmed_to_its_limit(shared_redis_prefix: str) -> None:
    backend = RedisBackend(SHARED_REDIS_URL, prefix=shared_redis_prefix, history_limit=3)
    for version in range(1, 6):
        backend.write(halt(version), expected_version=version - 1)
    assert [c.version for c in backend.history(limit=10)] == [5, 4, 3]
    backend.close()


def test_a_corrupt_key_is_unavailable_for_reads_and_writes(shared_redis_prefix: str) -> None:
    client = redis.Redis.from_url(SHARED_REDIS_URL)
    client.set(f"{shared_redis_prefix}:state", b"{not json")
    backend = RedisBackend(SHARED_REDIS_URL, prefix=shared_redis_prefix)
    with pytest.raises(StateUnavailableError):
        backend.load()
    with pytest.raises(StateUnavailableError):
        backend.write(halt(1), expected_version=0)
    client.close()
    backend.close()


async def test_a_change_is_published_to_another_process_watch(shared_redis_prefix: str) -> None:
    watching = RedisBackend(SHARED_REDIS_URL, prefix=shared_redis_prefix)
    watcher = RecordingWatcher()
    watching.watch(watcher)
    await eventually(lambda: watcher.saw_version(0))
    RedisBackend(SHARED_REDIS_URL, prefix=shared_redis_prefix).write(halt(1), expected_version=0)
    await eventually(lambda: watcher.saw_version(1))
    watching.close()


def test_no_server_is_unavailable_not_empty() -> None:
    server = RedisServer()
    backend = RedisBackend(server.url(), prefix="tw-test", socket_timeout_s=0.5)
    with pytest.raises(StateUnavailableError):
        backend.load()
    backend.close()
    server.close()


async def test_a_watch_reports_the_loss_and_re_writes_the_state_after_a_restart(
    private_redis: RedisServer,
) -> None:
    backend = RedisBackend(private_redis.url(), prefix="tw", socket_timeout_s=0.5)
    watcher = RecordingWatcher()
    backend.watch(watcher)
    backend.write(halt(1), expected_version=0)
    await eventually(lambda: watcher.saw_version(1))
    private_redis.stop()
    await eventually(lambda: bool(watcher.errors))
    count = len(watcher.changes)
    private_redis.start()  # empty: the server keeps nothing
    await eventually(lambda: len(watcher.changes) > count)
    assert watcher.last == halt(1)
    assert RedisBackend(private_redis.url(), prefix="tw").load() == halt(1)
    backend.close()


def test_redis_is_imported_only_when_a_redis_back_end_is_made() -> None:
    code = (
        "import sys, tradewarden.guard, tradewarden.guard.state as s\n"
        "assert 'redis' not in sys.modules\n"
        "s.RedisBackend('redis://127.0.0.1:1/0')\n"
        "assert 'redis' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
