"""BreakerControl on a real Redis: what the warden writes, a bot's breaker attached through
``RedisBreakerSync`` takes up; listing is the seeds' hashes; a lost Redis is an error that
names no password."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from guard.state._fixtures import SHARED_REDIS_URL
from support.eventually import eventually
from support.redis_server import RedisServer
from tradewarden.control import BreakerControl, ControlUnavailableError
from tradewarden.errors import NotFoundError
from tradewarden.guard.breaker import BreakerState, CircuitBreaker, RedisBreakerSync

pytestmark = pytest.mark.redis


@pytest.fixture
def prefix(shared_redis_prefix: str) -> str:
    return f"{shared_redis_prefix}:cb:"  # under the fixture's prefix: deleted afterwards


@pytest.fixture
def control(prefix: str) -> Iterator[BreakerControl]:
    control = BreakerControl(SHARED_REDIS_URL, prefix=prefix, channel=f"{prefix}events")
    yield control
    control.close()


@pytest.fixture
def bot_sync(prefix: str) -> Iterator[RedisBreakerSync]:
    with RedisBreakerSync(
        SHARED_REDIS_URL, prefix=prefix, channel=f"{prefix}events", poll_interval_s=60
    ) as sync:
        yield sync


async def test_an_opened_breaker_is_taken_up_by_a_bot_and_closed_again(
    control: BreakerControl, bot_sync: RedisBreakerSync
) -> None:
    breaker = CircuitBreaker("jupiter")
    bot_sync.attach(breaker)
    before, after = await control.act("jupiter", "open")
    assert before is None  # a CLOSED breaker without failures has no hash yet
    assert after.state == "FORCED_OPEN"
    # Announced on the channel; the bot polls only every 60 s, so this is pub/sub.
    await eventually(lambda: breaker.state is BreakerState.FORCED_OPEN)

    before, after = await control.act("jupiter", "close")
    assert before is not None
    assert before.state == "FORCED_OPEN"
    assert (after.state, after.failure_count) == ("CLOSED", 0)
    await eventually(lambda: breaker.state is BreakerState.CLOSED)


async def test_an_unforced_open_recovers_after_its_timeout(control: BreakerControl) -> None:
    _before, after = await control.act("rpc_pool", "open", forced=False)
    assert after.state == "OPEN"
    assert after.remaining_s is not None
    assert 0 < after.remaining_s <= control.timeout_s


async def test_the_list_holds_the_seeds_hashes_only(control: BreakerControl, prefix: str) -> None:
    client = redis.Redis.from_url(SHARED_REDIS_URL, decode_responses=True)
    try:
        # The seeds' recovery command, typed by hand.
        client.hset(f"{prefix}rpc_pool", mapping={"state": "OPEN", "failureCount": 5})
        client.hset(f"{prefix}odd", mapping={"state": "SIDEWAYS"})
        client.set(f"{prefix}rpc_pool:state", "CLOSED")  # per-field keys: not a breaker here
    finally:
        client.close()
    views = await control.all()
    assert [view.name for view in views] == ["odd", "rpc_pool"]
    odd, rpc_pool = views
    assert odd.state == "UNKNOWN"
    assert (rpc_pool.state, rpc_pool.failure_count) == ("OPEN", 5)
    assert rpc_pool.opened_at is not None  # the read stamps a hand OPEN, as every process does


async def test_closing_or_resetting_an_unknown_breaker_is_not_found(
    control: BreakerControl,
) -> None:
    for action in ("close", "reset"):
        with pytest.raises(NotFoundError, match="no circuit breaker 'nobody'"):
            await control.act("nobody", action)
    assert await control.all() == []  # nothing was created by the refusals


async def test_a_stopped_redis_is_unavailable_without_its_password(tmp_path: Path) -> None:
    secret = "br3aker-pa55"
    with RedisServer(tmp_path / "redis", password=secret) as server:
        control = BreakerControl(server.url(), socket_timeout_s=0.5)
        assert (await control.all()) == []
        server.stop()
        for attempt in (control.all(), control.act("jupiter", "open")):
            with pytest.raises(ControlUnavailableError) as caught:
                await attempt
            assert "unavailable" in caught.value.message
            assert secret not in caught.value.message
            assert "***" in caught.value.message  # the URL is shown, masked
        control.close()
