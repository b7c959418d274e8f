"""Breaker state shared through a real Redis: across processes, by hand, and without Redis.

Another process is a real one (``_peer.py``); waits are ``eventually()``, never timed
asserts. Each test has its own breaker name and announcement channel on the shared
server; the outage tests run a private redis-server they can stop.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from support.eventually import eventually
from support.net import free_port
from support.redis_server import RedisServer
from tradewarden.clock import ManualClock
from tradewarden.guard.breaker import (
    BreakerConfig,
    BreakerState,
    CircuitBreaker,
    CircuitOpenError,
    RedisBreakerSync,
)
from tradewarden.guard.breaker._redis import SharedBreakerState

from .conftest import fail, succeed

pytestmark = pytest.mark.redis
SHARED_URL = "redis://127.0.0.1:6379/0"
PEER = Path(__file__).with_name("_peer.py")


class Peer:
    """A bot process with one breaker of the same name."""

    def __init__(self, url: str, name: str, channel: str, poll_s: float = 60.0) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(PEER), url, name, channel, str(poll_s)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def send(self, command: str) -> str:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        return self.process.stdout.readline().strip()

    def close(self) -> None:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        if self.process.poll() is None:
            self.process.stdin.write("quit\n")
            self.process.stdin.flush()
            self.process.wait(10)
        self.process.stdin.close()
        self.process.stdout.close()


@pytest.fixture
def name() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def channel(name: str) -> str:
    return f"circuit_breaker:events:{name}"


@pytest.fixture
def r(name: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(SHARED_URL, decode_responses=True)
    yield client
    client.delete(f"circuit_breaker:{name}")
    client.close()


@pytest.fixture
def sync(channel: str) -> Iterator[RedisBreakerSync]:
    with RedisBreakerSync(SHARED_URL, channel=channel, poll_interval_s=0.05) as shared:
        yield shared


@pytest.fixture
def peer(name: str, channel: str) -> Iterator[Peer]:
    process = Peer(SHARED_URL, name, channel)
    assert process.send("state") == "CLOSED"
    yield process
    process.close()


def new_breaker(name: str, clock: ManualClock, sync: RedisBreakerSync) -> CircuitBreaker:
    breaker = CircuitBreaker(name, BreakerConfig(), clock=clock)
    sync.attach(breaker)
    return breaker


async def test_state_is_written_in_the_seeds_hash(
    name: str, clock: ManualClock, sync: RedisBreakerSync, r: redis.Redis
) -> None:
    breaker = new_breaker(name, clock, sync)
    fail(breaker, 5)
    assert breaker.state is BreakerState.OPEN  # at once, before Redis has it
    key = f"circuit_breaker:{name}"
    await eventually(lambda: r.hget(key, "state") == "OPEN")
    stored = r.hgetall(key)
    assert stored["failureCount"] == "5"
    assert int(stored["lastFailureTime"]) > 1_600_000_000_000  # epoch ms
    assert int(stored["openedAt"]) >= int(stored["lastFailureTime"])


async def test_failures_of_two_processes_add_up(
    name: str, clock: ManualClock, sync: RedisBreakerSync, r: redis.Redis, peer: Peer
) -> None:
    breaker = new_breaker(name, clock, sync)
    fail(breaker, 3)
    await eventually(lambda: r.hget(f"circuit_breaker:{name}", "failureCount") == "3")
    peer.send("fail")
    peer.send("fail")  # 2 here, 5 in all
    await eventually(lambda: peer.send("state") == "OPEN")
    await eventually(lambda: breaker.state is BreakerState.OPEN)


async def test_another_process_converges_through_pubsub(
    name: str, channel: str, clock: ManualClock, r: redis.Redis, peer: Peer
) -> None:
    # Polling once a minute: only the announcement can bring the change in time.
    with RedisBreakerSync(SHARED_URL, channel=channel, poll_interval_s=60) as slow_poll:
        breaker = new_breaker(name, clock, slow_poll)
        await eventually(lambda: slow_poll.connected)
        succeed(breaker)
        assert peer.send("force_open") == "FORCED_OPEN"
        await eventually(lambda: breaker.state is BreakerState.FORCED_OPEN)
        with pytest.raises(CircuitOpenError):
            breaker.call(int)
        breaker.reset()
        await eventually(lambda: peer.send("state") == "CLOSED")


async def test_a_hand_edited_hash_is_taken_up(
    name: str, clock: ManualClock, sync: RedisBreakerSync, r: redis.Redis
) -> None:
    breaker = new_breaker(name, clock, sync)
    key = f"circuit_breaker:{name}"
    fail(breaker, 5)
    await eventually(lambda: r.hget(key, "state") == "OPEN")
    # The seeds' runbook: reset to CLOSED by hand.
    r.hset(key, "state", "CLOSED")
    r.hset(key, "failureCount", "0")
    r.hdel(key, "lastFailureTime")
    await eventually(lambda: breaker.state is BreakerState.CLOSED)
    assert breaker.call(lambda: "through") == "through"
    r.hset(key, mapping={"state": "OPEN"})
    await eventually(lambda: breaker.state is BreakerState.OPEN)
    assert r.hget(key, "openedAt") is not None  # the timeout now counts from one moment


async def test_deleting_the_hash_closes_the_breaker(
    name: str, clock: ManualClock, sync: RedisBreakerSync, r: redis.Redis
) -> None:
    breaker = new_breaker(name, clock, sync)
    breaker.force_open()
    key = f"circuit_breaker:{name}"
    await eventually(lambda: r.hget(key, "state") == "FORCED_OPEN")
    r.delete(key)
    await eventually(lambda: breaker.state is BreakerState.CLOSED)


async def test_a_new_process_takes_up_the_shared_state(
    name: str, clock: ManualClock, sync: RedisBreakerSync, r: redis.Redis, peer: Peer
) -> None:
    assert peer.send("force_open") == "FORCED_OPEN"
    breaker = new_breaker(name, clock, sync)
    await eventually(lambda: breaker.state is BreakerState.FORCED_OPEN)


async def test_half_open_trials_close_the_breaker_everywhere(
    name: str, clock: ManualClock, sync: RedisBreakerSync, r: redis.Redis, peer: Peer
) -> None:
    breaker = new_breaker(name, clock, sync)
    fail(breaker, 5)
    await eventually(lambda: peer.send("state") == "OPEN")
    clock.advance(30)
    succeed(breaker, 2)
    assert breaker.state is BreakerState.CLOSED
    await eventually(lambda: peer.send("state") == "CLOSED")
    assert r.hget(f"circuit_breaker:{name}", "failureCount") == "0"


async def test_a_success_after_failures_resets_the_shared_count(
    name: str, clock: ManualClock, sync: RedisBreakerSync, r: redis.Redis
) -> None:
    breaker = new_breaker(name, clock, sync)
    key = f"circuit_breaker:{name}"
    fail(breaker, 2)
    await eventually(lambda: r.hget(key, "failureCount") == "2")
    succeed(breaker)
    await eventually(lambda: r.hget(key, "failureCount") == "0")


async def test_operators_read_and_write_shared_state_without_a_breaker(
    name: str, clock: ManualClock, sync: RedisBreakerSync, r: redis.Redis
) -> None:
    breaker = new_breaker(name, clock, sync)
    written = sync.write(name, BreakerState.FORCED_OPEN)
    assert written is not None
    assert written.state is BreakerState.FORCED_OPEN
    await eventually(lambda: breaker.state is BreakerState.FORCED_OPEN)
    shared = sync.read(name)
    assert shared is not None
    assert (shared.state, shared.exists) == (BreakerState.FORCED_OPEN, True)


async def test_a_read_that_spans_an_announcement_does_not_undo_it(
    name: str, channel: str, clock: ManualClock, r: redis.Redis
) -> None:
    # The worker's read after attach found no hash; before its reply was taken up, an
    # operator forced the breaker open and the subscriber took up the announcement. The
    # missing hash has no version to compare: taken up, it closed the breaker again, and
    # with a 60 s poll the bot traded through an operator's stop until the next poll.
    with RedisBreakerSync(SHARED_URL, channel=channel, poll_interval_s=60) as shared:
        operator = RedisBreakerSync(SHARED_URL, channel=channel)  # never started
        breaker = CircuitBreaker(name, BreakerConfig(), clock=clock)
        take_up = shared._take_up
        worker_take_ups: list[SharedBreakerState | None] = []

        def opened_before_the_reply(
            name_: str, snapshot: SharedBreakerState | None, **kwargs: Any
        ) -> None:
            in_worker = threading.current_thread().name.endswith("worker")
            if in_worker and not worker_take_ups:
                operator.write(name, BreakerState.FORCED_OPEN)
                give_up = time.monotonic() + 10  # the subscriber's take-up, or go on anyway
                while breaker.state is not BreakerState.FORCED_OPEN and time.monotonic() < give_up:
                    time.sleep(0.01)
            take_up(name_, snapshot, **kwargs)
            if in_worker:
                worker_take_ups.append(snapshot)

        shared._take_up = opened_before_the_reply  # type: ignore[method-assign]
        try:
            await eventually(lambda: dict(r.pubsub_numsub(channel)).get(channel, 0) >= 1)
            shared.attach(breaker)
            await eventually(lambda: len(worker_take_ups) >= 2)
            first, second = worker_take_ups[:2]
            assert first is not None
            assert not first.exists  # the stale read, not taken up
            assert second is not None
            assert second.state is BreakerState.FORCED_OPEN  # read again
            assert breaker.state is BreakerState.FORCED_OPEN
        finally:
            operator.close()


@contextlib.asynccontextmanager
async def opened_during_an_outage(
    tmp_path: Path, name: str, clock: ManualClock
) -> AsyncIterator[tuple[CircuitBreaker, redis.Redis]]:
    """Yield a breaker that opened while its Redis was down, and a client of the Redis back."""
    with RedisServer(tmp_path) as server:
        url = server.url()
        with RedisBreakerSync(url, poll_interval_s=0.05, socket_timeout_s=0.2) as shared:
            breaker = new_breaker(name, clock, shared)
            await eventually(lambda: shared.connected)
            server.stop()
            fail(breaker, 5)  # Redis is gone: the calls do not wait, the breaker opens
            assert breaker.state is BreakerState.OPEN
            with pytest.raises(CircuitOpenError):
                breaker.call(int)
            await eventually(lambda: not shared.connected)
            server.start()  # empty: the local OPEN is written back
            client = redis.Redis.from_url(url, decode_responses=True)
            try:
                yield breaker, client
            finally:
                client.close()


@pytest.mark.slow
async def test_without_redis_the_breaker_works_locally_and_resyncs(
    tmp_path: Path, name: str, clock: ManualClock
) -> None:
    async with opened_during_an_outage(tmp_path, name, clock) as (breaker, client):
        key = f"circuit_breaker:{name}"
        await eventually(lambda: client.hget(key, "state") == "OPEN")
        client.hset(key, mapping={"state": "CLOSED", "failureCount": "0"})
        await eventually(lambda: breaker.state is BreakerState.CLOSED)


@pytest.mark.slow
async def test_an_operator_state_set_during_an_outage_wins_at_resync(
    tmp_path: Path, name: str, clock: ManualClock
) -> None:
    async with opened_during_an_outage(tmp_path, name, clock) as (breaker, client):
        client.hset(f"circuit_breaker:{name}", "state", "FORCED_OPEN")
        await eventually(lambda: breaker.state is BreakerState.FORCED_OPEN)


async def test_names_lists_the_breakers_in_redis(
    name: str, clock: ManualClock, sync: RedisBreakerSync, r: redis.Redis
) -> None:
    sync.write(name, BreakerState.OPEN)
    r.set(f"circuit_breaker:{name}:state", "OPEN")  # the seeds' other layout: not a breaker
    try:
        names = sync.names()
    finally:
        r.delete(f"circuit_breaker:{name}:state")
    assert name in names
    assert f"{name}:state" not in names


async def test_a_detached_breaker_stops_sharing(
    name: str, clock: ManualClock, sync: RedisBreakerSync, r: redis.Redis
) -> None:
    breaker = new_breaker(name, clock, sync)
    await eventually(lambda: sync.connected)
    sync.detach(breaker)
    breaker.force_open()
    sync.write(f"{name}-other", BreakerState.CLOSED)  # a round trip after the detach
    r.delete(f"circuit_breaker:{name}-other")
    assert r.exists(f"circuit_breaker:{name}") == 0


async def test_an_unknown_state_by_hand_is_ignored(
    name: str,
    clock: ManualClock,
    sync: RedisBreakerSync,
    r: redis.Redis,
    caplog: pytest.LogCaptureFixture,
) -> None:
    breaker = new_breaker(name, clock, sync)
    key = f"circuit_breaker:{name}"
    r.hset(key, "state", "BROKEN")
    await eventually(lambda: "unknown state" in caplog.text)
    assert breaker.state is BreakerState.CLOSED
    assert breaker.call(int) == 0
    r.hset(key, "state", "open")  # case does not matter
    await eventually(lambda: breaker.state is BreakerState.OPEN)


@pytest.mark.slow
async def test_a_breaker_works_when_redis_was_never_there(name: str, clock: ManualClock) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    with RedisBreakerSync(url, socket_timeout_s=0.2) as shared:
        breaker = new_breaker(name, clock, shared)
        fail(breaker, 5)
        assert breaker.state is BreakerState.OPEN
        clock.advance(30)
        succeed(breaker, 2)
        assert breaker.state is BreakerState.CLOSED
        assert not shared.connected


class FailsWhileAdopting(CircuitBreaker):
    """A breaker whose next call fails, opening it, just as the sync starts to adopt."""

    def _adopt(self, *args: Any, **kwargs: Any) -> None:
        fail(self)  # opens, queueing the transition for the worker
        super()._adopt(*args, **kwargs)


def test_a_local_transition_made_while_a_snapshot_is_taken_up_is_kept(
    clock: ManualClock,
) -> None:
    # The worker notes a snapshot, then adopts it outside the sync's lock; a call that opens
    # the breaker in between queues its transition, and the older snapshot must not undo it.
    sync = RedisBreakerSync(f"redis://127.0.0.1:{free_port()}/0")  # never started
    breaker = FailsWhileAdopting("between", BreakerConfig(failure_threshold=1), clock=clock)
    sync.attach(breaker)
    closed = SharedBreakerState(BreakerState.CLOSED, 0, None, None, 3, None, exists=True)
    try:
        sync._take_up("between", closed)
        assert breaker.state is BreakerState.OPEN
    finally:
        sync.close()


def test_an_announcement_with_unreadable_fields_is_logged_and_ignored(
    clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    # Raised in the subscriber thread, it ended the thread: no announcement was taken up
    # again until the process restarted.
    sync = RedisBreakerSync(f"redis://127.0.0.1:{free_port()}/0")  # never started
    breaker = CircuitBreaker("garbled", clock=clock)
    sync.attach(breaker)
    fields = {"state": "OPEN", "lastFailureTime": -1, "openedAt": -1, "remainingMs": 30_000}
    announcement = {"name": "garbled", "origin": "elsewhere", "version": 9, **fields}
    try:
        sync._announced(json.dumps({**announcement, "failureCount": None}))
        sync._announced(json.dumps({**announcement, "failureCount": "many"}))
        assert breaker.state is BreakerState.CLOSED
        assert caplog.text.count("unreadable announcement") == 2
    finally:
        sync.close()
