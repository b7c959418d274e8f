"""The redis step against real Redis: allow-listed reads answer, and a write is refused
before it is sent (the server's own command counters prove it never arrived)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from runbooks.conftest import REDIS_ENV, SHARED_REDIS
from support.redis_server import RedisServer
from tradewarden.runbooks import RedisStep, RunbookRunner

pytestmark = pytest.mark.redis


def redis_step(*command: str, **fields: Any) -> RedisStep:
    return RedisStep(
        id="redis-step", title="A command", connection="app-redis", command=command, **fields
    )


def unchecked(*command: str) -> RedisStep:
    """A step built around the model: what a bug in the load-time check would let through."""
    return RedisStep.model_construct(
        id="redis-write", title="A write", kind="redis", connection="app-redis", command=command
    )


@pytest.fixture
async def shared(redis_prefix: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(SHARED_REDIS, decode_responses=True)
    try:
        yield client
    finally:
        await client.aclose()


async def test_allow_listed_reads_answer(
    redis_prefix: str, shared: aioredis.Redis, make_runner: Callable[..., RunbookRunner]
) -> None:
    wait = f"{redis_prefix}:orders:wait"
    await shared.rpush(wait, "a", "b", "c")
    await shared.zadd(f"{redis_prefix}:orders:delayed", {"x": 1, "y": 2})
    runner = make_runner()
    labels = {"queue": "orders"}
    length = await runner.run_step(
        redis_step("LLEN", f"{redis_prefix}:{{{{ labels.queue }}}}:wait"), labels, {}
    )
    assert length.status == "ok", length.error
    assert length.output == {
        "command": ["LLEN", wait],
        "connection": "app-redis",
        "reply": 3,
    }
    head = await runner.run_step(redis_step("LRANGE", wait, "0", "1"), labels, {})
    assert head.output["reply"] == ["a", "b"]
    scores = await runner.run_step(
        redis_step("ZRANGE", f"{redis_prefix}:orders:delayed", "0", "9", "WITHSCORES"), {}, {}
    )
    assert scores.status == "ok"
    info = await runner.run_step(redis_step("INFO", "server"), {}, {})
    assert info.status == "ok"
    assert "redis_version" in info.output["reply"]
    ping = await runner.run_step(redis_step("PING"), {}, {})
    assert ping.output["reply"] is True


async def test_a_wrong_type_is_a_failed_step(
    redis_prefix: str, shared: aioredis.Redis, make_runner: Callable[..., RunbookRunner]
) -> None:
    await shared.set(f"{redis_prefix}:plain", "1")
    result = await make_runner().run_step(redis_step("LLEN", f"{redis_prefix}:plain"), {}, {})
    assert result.status == "failed"
    assert "WRONGTYPE" in (result.error or "")


async def test_a_label_that_makes_a_range_unbounded_is_refused(
    redis_prefix: str, make_runner: Callable[..., RunbookRunner]
) -> None:
    step = redis_step("LRANGE", f"{redis_prefix}:k", "0", "{{ labels.stop }}")
    result = await make_runner().run_step(step, {"stop": "-1"}, {})
    assert result.status == "failed"
    assert "refused before sending" in (result.error or "")


@pytest.fixture
def private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RedisServer]:
    """A Redis of this test alone, so its command counters count only this test's commands."""
    with RedisServer(tmp_path / "redis") as server:
        monkeypatch.setenv(REDIS_ENV, server.url())
        yield server


async def _calls(client: aioredis.Redis) -> dict[str, int]:
    stats = await client.info("commandstats")
    return {name: int(entry["calls"]) for name, entry in stats.items()}


@pytest.mark.slow
@pytest.mark.parametrize(
    "command",
    [
        ("SET", "guarded", "overwritten"),
        ("DEL", "guarded"),
        ("FLUSHALL",),
        ("CONFIG", "SET", "maxmemory", "1"),
        ("EVAL", "return redis.call('SET', 'guarded', 'x')", "0"),
        ("KEYS", "*"),
        ("LRANGE", "guarded-list", "0", "-1"),
    ],
)
async def test_a_write_is_refused_before_it_is_sent(
    command: tuple[str, ...], private: RedisServer, make_runner: Callable[..., RunbookRunner]
) -> None:
    client = aioredis.Redis.from_url(private.url(), decode_responses=True)
    try:
        await client.set("guarded", "original")
        await client.rpush("guarded-list", "x")
        before = await _calls(client)
        result = await make_runner().run_step(unchecked(*command), {}, {})
        assert result.status == "failed"
        assert (result.error or "").startswith("refused before sending:")
        after = await _calls(client)
        assert await client.get("guarded") == "original"
    finally:
        await client.aclose()
    name = f"cmdstat_{command[0].lower()}"
    assert after.get(name, 0) == before.get(name, 0)
    # Only this test's own INFO reached the server in between: the step opened no
    # connection at all.
    changed = {k for k in after if after[k] != before.get(k, 0)}
    assert changed == {"cmdstat_info"}


@pytest.mark.slow
async def test_an_allowed_read_does_reach_the_server(
    private: RedisServer, make_runner: Callable[..., RunbookRunner]
) -> None:
    client = aioredis.Redis.from_url(private.url(), decode_responses=True)
    try:
        before = await _calls(client)
        result = await make_runner().run_step(redis_step("DBSIZE"), {}, {})
        after = await _calls(client)
    finally:
        await client.aclose()
    assert result.status == "ok"
    assert after["cmdstat_dbsize"] == before.get("cmdstat_dbsize", 0) + 1


async def test_an_unconfigured_connection_skips_the_step(
    make_runner: Callable[..., RunbookRunner],
) -> None:
    step = RedisStep(id="cache", title="C", connection="cache", command=("PING",))
    result = await make_runner().run_step(step, {}, {})
    assert (result.status, result.error) == ("skipped", "connection cache is not configured")


async def test_a_sql_connection_is_no_redis_connection(
    make_runner: Callable[..., RunbookRunner],
) -> None:
    step = RedisStep(id="cache", title="C", connection="app-db", command=("PING",))
    result = await make_runner().run_step(step, {}, {})
    assert result.status == "error"
    assert "is a postgres connection, not redis" in (result.error or "")
