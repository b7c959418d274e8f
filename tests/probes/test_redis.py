"""The redis kind against private redis-servers that the tests stop, fill and demote."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from pydantic import ValidationError
from redis.exceptions import ResponseError

from support.eventually import eventually
from support.net import free_port
from support.redis_server import RedisServer
from tradewarden.clock import ManualClock
from tradewarden.probes._model import ProbeContext, ProbeResult
from tradewarden.probes.kinds.redis import RedisSpec

pytestmark = [pytest.mark.redis, pytest.mark.slow]

PASSWORD = "s3cret"
ENV_NAME = "TW_PROBE_TEST_REDIS_URL"


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RedisServer]:
    with RedisServer(tmp_path / "main") as private:
        yield private


@pytest.fixture
def password_server(tmp_path: Path) -> Iterator[RedisServer]:
    with RedisServer(tmp_path / "password", password=PASSWORD) as private:
        yield private


@contextlib.asynccontextmanager
async def admin(server: RedisServer) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(server.url(), decode_responses=True)
    try:
        yield client
    finally:
        await client.aclose()


def make_ctx(http: httpx.AsyncClient, timeout_s: float = 5.0) -> ProbeContext:
    return ProbeContext(clock=ManualClock(), timeout_s=timeout_s, http=http)


def spec(**fields: Any) -> RedisSpec:
    return RedisSpec(name="cache", **fields)


async def check(http: httpx.AsyncClient, timeout_s: float = 5.0, **fields: Any) -> ProbeResult:
    return await spec(**fields).build().run(make_ctx(http, timeout_s))


def values(result: ProbeResult) -> dict[str, float]:
    return {sample.name: sample.value for sample in result.samples}


def assert_no_secret(result: ProbeResult, secret: str = PASSWORD) -> None:
    assert secret not in (result.error or "")
    for sample in result.samples:
        assert secret not in f"{sample.name} {sample.help} {dict(sample.labels)}"


class SilentServer:
    """Accept TCP connections and never answer: a hung server. Count closed connections."""

    def __init__(self) -> None:
        self.accepted = 0
        self.closed = 0
        self._writers: list[asyncio.StreamWriter] = []

    async def __aenter__(self) -> SilentServer:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._server.close()
        for writer in self._writers:
            writer.close()
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        self._writers.append(writer)
        with contextlib.suppress(OSError):
            while await reader.read(4096):  # swallow PING; b"" at EOF: the client closed
                pass
        self.closed += 1
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def test_master_is_up_with_samples(http: httpx.AsyncClient, server: RedisServer) -> None:
    result = await check(http, url=server.url(), expect_role="master")

    assert result.success, result.error
    assert not result.degraded
    got = values(result)
    assert got["redis_up"] == 1
    assert got["redis_ping_seconds"] > 0
    assert got["redis_used_memory_bytes"] > 0
    assert got["redis_maxmemory_bytes"] == 0  # unlimited: no memory warning
    assert got["redis_connected_clients"] >= 1
    assert got["redis_role_master"] == 1
    assert got["redis_rdb_last_bgsave_ok"] == 1


async def test_probe_leaves_no_connection_behind(
    http: httpx.AsyncClient, server: RedisServer
) -> None:
    probe = spec(url=server.url()).build()
    for _ in range(3):
        assert (await probe.run(make_ctx(http))).success

    async with admin(server) as client:

        async def none_left() -> bool:
            listing = await client.client_list()
            return not any(entry.get("name") == "tradewarden-probe" for entry in listing)

        await eventually(none_left)


async def test_stopped_server_is_down(
    http: httpx.AsyncClient, password_server: RedisServer
) -> None:
    probe = spec(url=password_server.url()).build()
    assert (await probe.run(make_ctx(http))).success

    password_server.stop()
    result = await probe.run(make_ctx(http))

    assert not result.success
    assert "cannot connect" in (result.error or "")
    assert f"127.0.0.1:{password_server.port}" in (result.error or "")
    assert values(result) == {"redis_up": 0}
    assert_no_secret(result)

    password_server.start()
    assert (await probe.run(make_ctx(http))).success


async def test_wrong_password_is_an_authentication_failure_without_the_password(
    http: httpx.AsyncClient, password_server: RedisServer
) -> None:
    result = await check(http, url=password_server.url(password="wr0ng-pa55"))

    assert not result.success
    assert "authentication failed" in (result.error or "")
    assert_no_secret(result, "wr0ng-pa55")


async def test_missing_password_is_an_authentication_failure(
    http: httpx.AsyncClient, password_server: RedisServer
) -> None:
    result = await check(http, url=f"redis://127.0.0.1:{password_server.port}/0")

    assert not result.success
    assert "authentication failed" in (result.error or "")


async def test_password_in_query_string_is_masked(http: httpx.AsyncClient) -> None:
    port = free_port()
    result = await check(http, url=f"redis://127.0.0.1:{port}/0?password={PASSWORD}")

    assert not result.success
    assert_no_secret(result)


async def test_out_of_range_database_is_an_error_reply(
    http: httpx.AsyncClient, server: RedisServer
) -> None:
    result = await check(http, url=server.url(db=99))

    assert not result.success
    assert "error reply: DB index is out of range" in (result.error or "")


async def test_replica_where_a_master_is_expected_is_down(
    http: httpx.AsyncClient, server: RedisServer, tmp_path: Path
) -> None:
    with RedisServer(tmp_path / "upstream") as upstream:
        async with admin(upstream) as client:
            # Redis waits 5 s by default for more replicas before a diskless full sync.
            await client.config_set("repl-diskless-sync-delay", 0)
        async with admin(server) as client:
            await client.replicaof("127.0.0.1", upstream.port)

        result = await check(http, url=server.url(), expect_role="master")

        assert not result.success
        error = result.error or ""
        assert f"is a replica of 127.0.0.1:{upstream.port}, expected master" in error
        assert "READONLY" in error
        assert values(result)["redis_role_master"] == 0

        async def link_up() -> bool:
            replica = await check(http, url=server.url(), expect_role="replica")
            return replica.success and not replica.degraded

        await eventually(link_up)


async def test_replica_with_its_link_down_is_degraded(
    http: httpx.AsyncClient, server: RedisServer
) -> None:
    async with admin(server) as client:
        await client.replicaof("127.0.0.1", free_port())

    result = await check(http, url=server.url(), expect_role="replica")

    assert result.success, result.error
    assert result.degraded
    assert "link to its master is down" in (result.error or "")


async def test_master_where_a_replica_is_expected_is_down(
    http: httpx.AsyncClient, server: RedisServer
) -> None:
    result = await check(http, url=server.url(), expect_role="replica")

    assert not result.success
    assert "is a master, expected replica" in (result.error or "")


async def test_full_maxmemory_is_degraded(http: httpx.AsyncClient, server: RedisServer) -> None:
    async with admin(server) as client:
        used = int((await client.info("memory"))["used_memory"])
        await client.config_set("maxmemory", used + 256 * 1024)
        with contextlib.suppress(ResponseError):  # OOM once full: that is the point
            for index in range(1000):
                await client.set(f"filler:{index}", "x" * 16 * 1024)

    result = await check(http, url=server.url())

    assert result.success, result.error
    assert result.degraded
    assert "of maxmemory used (above 90%)" in (result.error or "")
    got = values(result)
    assert got["redis_maxmemory_bytes"] == used + 256 * 1024
    assert got["redis_used_memory_bytes"] > 0.9 * got["redis_maxmemory_bytes"]


async def test_too_many_clients_is_degraded(http: httpx.AsyncClient, server: RedisServer) -> None:
    async with admin(server) as client:
        await client.ping()  # one connection besides the probe's own
        result = await check(http, url=server.url(), max_clients=1)

    assert result.success
    assert result.degraded
    assert "clients connected (above 1)" in (result.error or "")


async def test_failed_background_save_degrades_or_fails_when_required(
    http: httpx.AsyncClient, tmp_path: Path
) -> None:
    base_dir = tmp_path / "doomed"
    with RedisServer(base_dir) as private:
        # With its working directory gone, the BGSAVE child cannot create its temp file.
        shutil.rmtree(base_dir)
        async with admin(private) as client:
            await client.bgsave()

            async def save_failed() -> bool:
                persistence = await client.info("persistence")
                status = persistence["rdb_last_bgsave_status"]
                return bool(status == "err" and not persistence["rdb_bgsave_in_progress"])

            await eventually(save_failed)

        lenient = await check(http, url=private.url())
        strict = await check(http, url=private.url(), require_persistence_ok=True)

    assert lenient.success
    assert lenient.degraded
    assert "rdb_last_bgsave_status:err" in (lenient.error or "")
    assert values(lenient)["redis_rdb_last_bgsave_ok"] == 0
    assert not strict.success
    assert "persistence is failing" in (strict.error or "")


async def test_url_from_environment_and_file(
    http: httpx.AsyncClient,
    password_server: RedisServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv(ENV_NAME, password_server.url())
    secret_file = tmp_path / "redis-url"
    secret_file.write_text(password_server.url() + "\n")

    from_env = await check(http, url_env=ENV_NAME)
    from_file = await check(http, url_file=secret_file)

    assert from_env.success, from_env.error
    assert from_file.success, from_file.error


async def test_unset_environment_variable_and_empty_file_are_down(
    http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv(ENV_NAME, raising=False)
    empty = tmp_path / "empty"
    empty.write_text("\n")

    from_env = await check(http, url_env=ENV_NAME)
    from_file = await check(http, url_file=empty)

    assert from_env.error == f"environment variable {ENV_NAME} (url_env) is not set"
    assert from_file.error == f"url_file {empty} is empty"


async def test_hung_server_times_out_and_the_socket_is_closed(http: httpx.AsyncClient) -> None:
    async with SilentServer() as hung:
        result = await check(http, timeout_s=0.2, url=f"redis://127.0.0.1:{hung.port}/0")

        assert not result.success
        assert "timed out" in (result.error or "")
        await eventually(lambda: hung.accepted >= 1 and hung.closed == hung.accepted)
    gc.collect()


async def test_cancelled_check_closes_its_socket(http: httpx.AsyncClient) -> None:
    async with SilentServer() as hung:
        probe = spec(url=f"redis://:{PASSWORD}@127.0.0.1:{hung.port}/0").build()
        task = asyncio.create_task(probe.run(make_ctx(http, timeout_s=30)))
        await eventually(lambda: hung.accepted == 1)

        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

        await eventually(lambda: hung.closed == 1)
    gc.collect()


def test_two_url_sources_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match=r"\(got url, url_file\)"):
        spec(url="redis://127.0.0.1/0", url_file=tmp_path / "url")


def test_inline_url_must_be_redis_and_is_not_echoed() -> None:
    with pytest.raises(ValidationError, match="must be a redis://") as info:
        spec(url=f"http://user:{PASSWORD}@127.0.0.1/")
    assert PASSWORD not in str(info.value)


def test_inline_url_is_hidden_in_repr_and_dumps() -> None:
    monitor = spec(url=f"redis://:{PASSWORD}@127.0.0.1:6379/0")
    assert PASSWORD not in repr(monitor)
    assert PASSWORD not in monitor.model_dump_json()


@pytest.mark.parametrize(("field", "value"), [("max_memory_used_pct", 0), ("max_clients", 0)])
def test_thresholds_out_of_range_are_rejected(field: str, value: float) -> None:
    with pytest.raises(ValidationError, match=field):
        spec(url="redis://127.0.0.1/0", **{field: value})


def test_unknown_role_is_rejected() -> None:
    with pytest.raises(ValidationError, match="expect_role"):
        spec(url="redis://127.0.0.1/0", expect_role="primary")
