"""The postgres kind against the shared PostgreSQL server on 127.0.0.1:5432."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from pydantic import ValidationError

from support.eventually import eventually
from support.net import free_port
from tradewarden.clock import ManualClock
from tradewarden.probes._model import ProbeContext, ProbeResult
from tradewarden.probes.kinds.postgres import PostgresSpec

pytestmark = pytest.mark.postgres

PG_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
PASSWORD = "s3cret"
ENV_NAME = "TW_PROBE_TEST_PG_DSN"


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def make_ctx(http: httpx.AsyncClient, timeout_s: float = 5.0) -> ProbeContext:
    return ProbeContext(clock=ManualClock(), timeout_s=timeout_s, http=http)


def spec(**fields: Any) -> PostgresSpec:
    return PostgresSpec(name="db", **fields)


async def check(http: httpx.AsyncClient, timeout_s: float = 5.0, **fields: Any) -> ProbeResult:
    return await spec(**fields).build().run(make_ctx(http, timeout_s))


def values(result: ProbeResult) -> dict[str, float]:
    return {sample.name: sample.value for sample in result.samples}


def assert_no_secret(result: ProbeResult, secret: str = PASSWORD) -> None:
    assert secret not in (result.error or "")
    for sample in result.samples:
        assert secret not in sample.name
        assert secret not in sample.help
        assert all(secret not in f"{k}={v}" for k, v in sample.labels.items())


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
            await reader.read()  # returns at EOF: the client closed its end
        self.closed += 1
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def test_primary_is_up_with_samples(http: httpx.AsyncClient) -> None:
    result = await check(http, dsn=PG_URL, max_connections_used_pct=100)

    assert result.success, result.error
    assert not result.degraded
    assert result.error is None
    got = values(result)
    assert got["postgres_up"] == 1
    assert got["postgres_select1_seconds"] > 0
    assert 1 <= got["postgres_connections"] <= got["postgres_max_connections"]
    assert got["postgres_in_recovery"] == 0
    assert got["postgres_longest_query_seconds"] >= 0


async def test_probe_closes_its_connection(http: httpx.AsyncClient) -> None:
    probe = spec(dsn=PG_URL).build()
    for _ in range(3):
        assert (await probe.run(make_ctx(http))).success

    connection = await asyncpg.connect(PG_URL)
    try:

        async def none_left() -> bool:
            left = await connection.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1",
                "tradewarden-probe",
            )
            return bool(left == 0)

        await eventually(none_left)
    finally:
        await connection.close()


async def test_closed_port_is_down(http: httpx.AsyncClient) -> None:
    port = free_port()
    result = await check(http, dsn=f"postgresql://postgres:{PASSWORD}@127.0.0.1:{port}/x")

    assert not result.success
    assert "connection refused" in (result.error or "")
    assert f"127.0.0.1:{port}" in (result.error or "")
    assert values(result) == {"postgres_up": 0}
    assert_no_secret(result)


async def test_wrong_database_reports_the_server_error_without_the_password(
    http: httpx.AsyncClient,
) -> None:
    dsn = f"postgresql://postgres:{PASSWORD}@127.0.0.1:5432/tw_no_such_database"
    result = await check(http, dsn=dsn)

    assert not result.success
    assert 'database "tw_no_such_database" does not exist' in (result.error or "")
    assert "3D000" in (result.error or "")
    assert_no_secret(result)


async def test_password_in_query_string_is_masked(http: httpx.AsyncClient) -> None:
    port = free_port()
    result = await check(http, dsn=f"postgresql://postgres@127.0.0.1:{port}/x?password={PASSWORD}")

    assert not result.success
    assert_no_secret(result)


async def test_unknown_role_is_an_authentication_failure(http: httpx.AsyncClient) -> None:
    result = await check(http, dsn="postgresql://tw_no_such_role@127.0.0.1:5432/postgres")

    assert not result.success
    assert "authentication failed" in (result.error or "")
    assert "tw_no_such_role" in (result.error or "")


async def test_primary_where_a_replica_is_expected_fails(http: httpx.AsyncClient) -> None:
    result = await check(http, dsn=PG_URL, expect_role="replica")

    assert not result.success
    assert "is a primary, expected replica" in (result.error or "")
    assert values(result)["postgres_in_recovery"] == 0


async def test_primary_where_a_primary_is_expected_passes(http: httpx.AsyncClient) -> None:
    result = await check(http, dsn=PG_URL, expect_role="primary", max_connections_used_pct=100)

    assert result.success, result.error


async def test_dsn_from_environment(
    http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_NAME, PG_URL)

    result = await check(http, dsn_env=ENV_NAME)

    assert result.success, result.error


async def test_unset_environment_variable_is_down(
    http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV_NAME, raising=False)

    result = await check(http, dsn_env=ENV_NAME)

    assert not result.success
    assert result.error == f"environment variable {ENV_NAME} (dsn_env) is not set"


async def test_environment_variable_holding_no_postgres_url_is_down(
    http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_NAME, f"mysql://root:{PASSWORD}@127.0.0.1/x")

    result = await check(http, dsn_env=ENV_NAME)

    assert not result.success
    assert "must be a postgresql:// URL" in (result.error or "")
    assert_no_secret(result)


async def test_dsn_from_file(http: httpx.AsyncClient, tmp_path: Path) -> None:
    secret_file = tmp_path / "dsn"
    secret_file.write_text(PG_URL + "\n")

    result = await check(http, dsn_file=secret_file)

    assert result.success, result.error


async def test_missing_dsn_file_is_down(http: httpx.AsyncClient, tmp_path: Path) -> None:
    result = await check(http, dsn_file=tmp_path / "absent")

    assert not result.success
    assert "cannot read" in (result.error or "")


async def test_long_running_query_degrades(http: httpx.AsyncClient) -> None:
    sleeper = await asyncpg.connect(PG_URL)
    admin = await asyncpg.connect(PG_URL)
    query = asyncio.create_task(sleeper.fetchval("SELECT pg_sleep(5)"))
    probe = spec(dsn=PG_URL, max_query_age_s=0.05, max_connections_used_pct=100).build()
    seen: list[ProbeResult] = []

    async def degraded() -> bool:
        seen.append(await probe.run(make_ctx(http)))
        return seen[-1].degraded

    try:
        await eventually(degraded)
    finally:
        await admin.execute("SELECT pg_cancel_backend($1)", sleeper.get_server_pid())
        with contextlib.suppress(asyncpg.QueryCanceledError):
            await query
        await sleeper.close()
        await admin.close()

    result = seen[-1]
    assert result.success
    assert "a query has been running for" in (result.error or "")
    assert values(result)["postgres_longest_query_seconds"] > 0.05


async def test_connections_near_the_limit_degrade(http: httpx.AsyncClient) -> None:
    result = await check(http, dsn=PG_URL, max_connections_used_pct=0.0001)

    assert result.success
    assert result.degraded
    assert "connections in use" in (result.error or "")
    assert "above 0.0001%" in (result.error or "")


async def test_slow_select_degrades(http: httpx.AsyncClient) -> None:
    result = await check(http, dsn=PG_URL, slow_ms=0.000_001, max_connections_used_pct=100)

    assert result.success
    assert result.degraded
    assert "slower than slow_ms (1e-06)" in (result.error or "")


async def test_hung_server_times_out_and_the_socket_is_closed(http: httpx.AsyncClient) -> None:
    async with SilentServer() as server:
        result = await check(
            http, timeout_s=0.2, dsn=f"postgresql://postgres@127.0.0.1:{server.port}/x"
        )

        assert not result.success
        assert "timed out after 0.2 s" in (result.error or "")
        await eventually(lambda: server.accepted >= 1 and server.closed == server.accepted)
    gc.collect()


async def test_cancelled_check_closes_its_socket(http: httpx.AsyncClient) -> None:
    async with SilentServer() as server:
        probe = spec(dsn=f"postgresql://postgres@127.0.0.1:{server.port}/x").build()
        task = asyncio.create_task(probe.run(make_ctx(http, timeout_s=30)))
        await eventually(lambda: server.accepted == 1)

        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

        await eventually(lambda: server.closed == 1)
    gc.collect()


def test_two_dsn_sources_are_rejected() -> None:
    with pytest.raises(ValidationError, match="set exactly one of dsn, dsn_env, dsn_file") as info:
        spec(dsn=PG_URL, dsn_env=ENV_NAME)
    assert "(got dsn, dsn_env)" in str(info.value)


def test_no_dsn_source_is_rejected() -> None:
    with pytest.raises(ValidationError, match=r"\(got none\)"):
        spec()


def test_inline_dsn_must_be_postgres_and_is_not_echoed() -> None:
    with pytest.raises(ValidationError, match="must be a postgresql:// URL") as info:
        spec(dsn=f"mysql://root:{PASSWORD}@127.0.0.1/x")
    assert PASSWORD not in str(info.value)


def test_inline_dsn_is_hidden_in_repr_and_dumps() -> None:
    monitor = spec(dsn=f"postgresql://postgres:{PASSWORD}@127.0.0.1/x")
    assert PASSWORD not in repr(monitor)
    assert PASSWORD not in monitor.model_dump_json()


@pytest.mark.parametrize("pct", [0, -1, 100.5])
def test_connection_threshold_out_of_range_is_rejected(pct: float) -> None:
    with pytest.raises(ValidationError, match="max_connections_used_pct"):
        spec(dsn=PG_URL, max_connections_used_pct=pct)


def test_environment_variable_name_is_validated() -> None:
    with pytest.raises(ValidationError, match="dsn_env"):
        spec(dsn_env="not a name")


def test_unknown_field_is_rejected() -> None:
    with pytest.raises(ValidationError, match="expect_rol"):
        spec(dsn=PG_URL, expect_rol="primary")
