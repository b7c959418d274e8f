"""ManagedRedis against real, private redis-servers that the tests stop and restart."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import pytest

from support.eventually import eventually
from support.redis_server import RedisServer
from tradewarden.clock import ManualClock
from tradewarden.redisconn import ManagedRedis, RedisUnavailableError

MakeManaged = Callable[..., ManagedRedis]

pytestmark = [pytest.mark.redis, pytest.mark.slow]

REDIS_PASSWORD = "s3cret"  # the password_redis_server fixture's --requirepass


def _status_is(managed: ManagedRedis, status: str) -> bool:
    return managed.status == status


async def test_start_becomes_ready_and_set_get_roundtrips(
    redis_server: RedisServer, make_managed: MakeManaged
) -> None:
    managed = make_managed(redis_server.url())
    assert managed.status == "connecting"

    await managed.start()

    assert managed.stats().status == "ready"
    assert await managed.execute("SET", "greeting", "hello") is True
    assert await managed.execute("GET", "greeting") == "hello"
    assert await managed.client.get("greeting") == "hello"


async def test_start_twice_keeps_one_background_loop(
    redis_server: RedisServer, make_managed: MakeManaged
) -> None:
    managed = make_managed(redis_server.url())
    await managed.start()
    await managed.start()
    assert managed.status == "ready"


async def test_stats_report_a_fresh_ready_client(
    redis_server: RedisServer, make_managed: MakeManaged
) -> None:
    managed = make_managed(redis_server.url(), max_connections=7, clock=ManualClock())
    await managed.start()
    await managed.execute("PING")

    stats = managed.stats()

    assert stats.status == "ready"
    assert stats.connected is True
    assert stats.command_queue_length == 0
    assert stats.offline_queue_length == 0
    assert stats.pool_in_use == 0
    assert stats.pool_available == 1
    assert stats.pool_max == 7
    assert stats.reconnects_total == 0
    assert stats.last_error is None
    # The manual clock never moves, so the measured latency is exactly zero.
    assert stats.last_ping_ms == 0.0
    assert stats.as_dict() == {
        "status": "ready",
        "connected": True,
        "command_queue_length": 0,
        "offline_queue_length": 0,
        "pool_in_use": 0,
        "pool_available": 1,
        "pool_max": 7,
        "reconnects_total": 0,
        "last_error": None,
        "last_ping_ms": 0.0,
    }


async def test_command_queue_length_counts_blocking_commands_in_flight(
    redis_server: RedisServer, make_managed: MakeManaged
) -> None:
    managed = make_managed(redis_server.url())
    await managed.start()
    keys = [f"jobs:{i}" for i in range(5)]

    blocked = [asyncio.create_task(managed.execute("BLPOP", key, 30)) for key in keys]
    await eventually(lambda: managed.stats().command_queue_length == 5)
    # Each BLPOP holds its own pooled connection until its list gets an element.
    await eventually(lambda: managed.stats().pool_in_use == 5)
    assert managed.stats().offline_queue_length == 0

    for key in keys:
        await managed.execute("RPUSH", key, f"done {key}")
    results = await asyncio.gather(*blocked)

    assert results == [(key, f"done {key}") for key in keys]
    after = managed.stats()
    assert after.command_queue_length == 0
    assert after.pool_in_use == 0
    assert after.pool_available == 6


async def test_response_errors_pass_through_and_keep_the_client_ready(
    redis_server: RedisServer, make_managed: MakeManaged
) -> None:
    managed = make_managed(redis_server.url())
    await managed.start()
    await managed.execute("SET", "scalar", "1")

    with pytest.raises(Exception, match="WRONGTYPE"):
        await managed.execute("LPUSH", "scalar", "x")

    assert managed.status == "ready"
    assert managed.stats().last_error is None


async def test_start_with_server_down_does_not_raise_and_connects_when_it_comes_up(
    redis_server: RedisServer, make_managed: MakeManaged
) -> None:
    redis_server.stop()
    managed = make_managed(redis_server.url())

    await managed.start()

    assert managed.status in {"connecting", "reconnecting"}
    assert managed.stats().connected is False
    assert managed.stats().last_error is not None

    redis_server.start()
    await eventually(lambda: _status_is(managed, "ready"))
    assert await managed.execute("SET", "after", "start") is True


async def test_server_stop_flips_to_reconnecting_and_back_to_ready(
    redis_server: RedisServer, make_managed: MakeManaged
) -> None:
    managed = make_managed(redis_server.url())
    await managed.start()

    redis_server.stop()
    await eventually(lambda: _status_is(managed, "reconnecting"))
    down = managed.stats()
    assert down.connected is False
    assert down.last_error is not None

    redis_server.start()
    await eventually(lambda: _status_is(managed, "ready"))
    assert managed.stats().reconnects_total == 1
    assert await managed.execute("GET", "missing") is None


async def test_execute_while_down_waits_offline_and_succeeds_when_server_returns(
    redis_server: RedisServer, make_managed: MakeManaged
) -> None:
    managed = make_managed(redis_server.url(), offline_queue_timeout_s=30.0)
    await managed.start()
    redis_server.stop()
    await eventually(lambda: _status_is(managed, "reconnecting"))

    pending = asyncio.create_task(managed.execute("SET", "queued", "yes"))
    await eventually(lambda: managed.stats().offline_queue_length == 1)
    assert managed.stats().command_queue_length == 0

    redis_server.start()

    assert await pending is True
    assert await managed.execute("GET", "queued") == "yes"
    assert managed.stats().offline_queue_length == 0


async def test_execute_while_down_raises_unavailable_when_server_stays_down(
    redis_server: RedisServer, make_managed: MakeManaged
) -> None:
    managed = make_managed(redis_server.url(), offline_queue_timeout_s=0.2)
    await managed.start()
    redis_server.stop()
    await eventually(lambda: _status_is(managed, "reconnecting"))

    with pytest.raises(RedisUnavailableError) as caught:
        await managed.execute("GET", "anything")

    assert caught.value.permanent is False
    assert managed.stats().offline_queue_length == 0


async def test_execute_on_a_dead_connection_before_the_health_check_notices_is_resent(
    redis_server: RedisServer, make_managed: MakeManaged
) -> None:
    # An hour between health checks: only execute() itself can notice the outage.
    managed = make_managed(
        redis_server.url(), health_check_interval_s=3600.0, offline_queue_timeout_s=30.0
    )
    await managed.start()
    await managed.execute("PING")
    redis_server.stop()

    pending = asyncio.create_task(managed.execute("SET", "resent", "1"))
    await eventually(lambda: managed.stats().offline_queue_length == 1)
    assert managed.status == "reconnecting"
    redis_server.start()

    assert await pending is True
    assert managed.stats().status == "ready"


async def test_ping_returns_latency_and_raises_unavailable_when_down(
    redis_server: RedisServer, make_managed: MakeManaged
) -> None:
    managed = make_managed(redis_server.url())
    await managed.start()

    latency_ms = await managed.ping()
    assert latency_ms >= 0.0
    assert managed.stats().last_ping_ms == latency_ms

    redis_server.stop()
    with pytest.raises(RedisUnavailableError):
        await managed.ping()
    assert managed.status == "reconnecting"


async def test_close_ends_the_client_and_is_idempotent(
    redis_server: RedisServer, make_managed: MakeManaged
) -> None:
    managed = make_managed(redis_server.url())
    await managed.start()

    await managed.close()
    await managed.close()

    assert managed.status == "end"
    assert managed.stats().connected is False
    with pytest.raises(RedisUnavailableError):
        await managed.execute("PING")
    with pytest.raises(RedisUnavailableError):
        await managed.ping()
    with pytest.raises(RuntimeError):
        await managed.start()


async def test_close_releases_commands_waiting_offline(
    redis_server: RedisServer, make_managed: MakeManaged
) -> None:
    redis_server.stop()
    managed = make_managed(redis_server.url(), offline_queue_timeout_s=30.0)
    await managed.start()
    pending = asyncio.create_task(managed.execute("GET", "never"))
    await eventually(lambda: managed.stats().offline_queue_length == 1)

    await managed.close()

    with pytest.raises(RedisUnavailableError, match="closed"):
        await pending
    assert managed.status == "end"


async def test_close_while_reconnecting_stops_the_background_loop(
    redis_server: RedisServer, make_managed: MakeManaged
) -> None:
    redis_server.stop()
    managed = make_managed(redis_server.url())
    await managed.start()
    await managed.close()

    redis_server.start()
    assert managed.status == "end"
    with pytest.raises(RedisUnavailableError):
        await managed.execute("PING")


async def test_password_never_shows_in_url_errors_or_logs(
    password_redis_server: RedisServer,
    make_managed: MakeManaged,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    url = password_redis_server.url()
    assert REDIS_PASSWORD in url  # the client really authenticates with it
    managed = make_managed(url, offline_queue_timeout_s=0.2)

    await managed.start()
    assert managed.status == "ready"
    assert await managed.execute("SET", "k", "v") is True
    assert managed.display_url == f"redis://:***@127.0.0.1:{password_redis_server.port}/0"

    password_redis_server.stop()
    await eventually(lambda: _status_is(managed, "reconnecting"))
    with pytest.raises(RedisUnavailableError) as caught:
        await managed.execute("GET", "k")
    password_redis_server.start()
    await eventually(lambda: _status_is(managed, "ready"))

    stats = managed.stats()
    assert stats.last_error is not None
    assert REDIS_PASSWORD not in stats.last_error
    assert REDIS_PASSWORD not in repr(stats)
    assert REDIS_PASSWORD not in str(caught.value)
    transitions = [r.getMessage() for r in caplog.records if r.name == "tradewarden.redis"]
    assert any("-> reconnecting" in message for message in transitions)
    assert any("reconnecting -> ready" in message for message in transitions)
    for record in caplog.records:
        assert REDIS_PASSWORD not in record.getMessage()
    assert REDIS_PASSWORD not in caplog.text


async def test_wrong_password_keeps_reconnecting_without_leaking_it(
    password_redis_server: RedisServer,
    make_managed: MakeManaged,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    managed = make_managed(password_redis_server.url(password="wr0ngpass"))

    await managed.start()

    assert managed.status == "reconnecting"
    last_error = managed.stats().last_error
    assert last_error is not None
    assert "Authentication" in last_error
    assert "wr0ngpass" not in last_error
    assert "wr0ngpass" not in managed.display_url
    assert "wr0ngpass" not in caplog.text
