"""Readiness (/status): a verdict per dependency, 503 when a critical one is down."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from support.eventually import eventually
from support.postgres_server import PostgresServer, make_base_dir
from support.redis_server import RedisServer
from tradewarden.api import create_app
from tradewarden.auth import PasswordHasher, Role
from tradewarden.clock import ManualClock
from tradewarden.config import RedisConfig, ServiceConfig, Settings
from tradewarden.runtime import SYSTEM, Runtime


async def test_status_needs_auth(client: httpx.AsyncClient) -> None:
    assert (await client.get("/status")).status_code == 401


async def test_healthy_status_is_keyword_friendly(
    client: httpx.AsyncClient, admin_headers: dict[str, str], backend: str
) -> None:
    response = await client.get("/status", headers=admin_headers)
    assert response.status_code == 200
    assert '"status":"ok"' in response.text
    assert '"database":{"status":"up"' in response.text
    body = response.json()
    database = body["dependencies"]["database"]
    assert database["backend"] == backend
    assert database["latency_ms"] >= 0
    assert database["error"] is None
    assert body["dependencies"]["redis"]["status"] == "not_configured"


async def test_v1_status_is_the_same(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await client.get("/v1/status", headers=admin_headers)
    assert response.json()["status"] == "ok"


async def _started(
    settings: Settings, config: ServiceConfig, hasher: PasswordHasher
) -> tuple[Runtime, httpx.AsyncClient, dict[str, str]]:
    runtime = Runtime(settings, config, clock=ManualClock(), hasher=hasher)
    await runtime.start(bootstrap_admin=False)
    key = await runtime.auth.create_api_key("status", Role.VIEWER, actor=SYSTEM)
    app = create_app(runtime, manage_runtime=False)
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://warden")
    return runtime, http, {"Authorization": f"Bearer {key.key}"}


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    with RedisServer(tmp_path / "redis") as server:
        yield server


@pytest.mark.redis
async def test_redis_is_reported_with_pool_statistics(
    database_url: str, tmp_path: Path, fast_hasher: PasswordHasher, private_redis: RedisServer
) -> None:
    settings = Settings(database_url=database_url, data_dir=tmp_path, redis_url=private_redis.url())
    runtime, http, headers = await _started(settings, ServiceConfig(), fast_hasher)
    try:
        await eventually(lambda: runtime.redis is not None and runtime.redis.status == "ready")
        body = (await http.get("/status", headers=headers)).json()
        redis = body["dependencies"]["redis"]
        assert redis["status"] == "up"
        assert redis["pool"]["status"] == "ready"
        assert redis["pool"]["connected"] is True
        assert {"command_queue_length", "offline_queue_length"} <= set(redis["pool"])
    finally:
        await http.aclose()
        await runtime.close()


@pytest.mark.redis
async def test_optional_redis_down_degrades_but_stays_200(
    database_url: str, tmp_path: Path, fast_hasher: PasswordHasher, private_redis: RedisServer
) -> None:
    url = private_redis.url()
    settings = Settings(database_url=database_url, data_dir=tmp_path, redis_url=url)
    runtime, http, headers = await _started(settings, ServiceConfig(), fast_hasher)
    try:
        private_redis.stop()
        response = await http.get("/status", headers=headers)
        assert response.status_code == 200
        body = response.json()
        assert body["status"] == "degraded"
        assert body["dependencies"]["redis"]["status"] == "down"
        assert body["dependencies"]["redis"]["error"]
    finally:
        await http.aclose()
        await runtime.close()


@pytest.mark.redis
async def test_required_redis_down_gives_503_and_recovers(
    database_url: str, tmp_path: Path, fast_hasher: PasswordHasher, private_redis: RedisServer
) -> None:
    settings = Settings(database_url=database_url, data_dir=tmp_path, redis_url=private_redis.url())
    config = ServiceConfig(redis=RedisConfig(required=True, health_check_interval_s=0.05))
    runtime, http, headers = await _started(settings, config, fast_hasher)
    try:
        private_redis.stop()
        assert (await http.get("/status", headers=headers)).status_code == 503
        private_redis.start()

        async def _ready() -> bool:
            return (await http.get("/status", headers=headers)).status_code == 200

        await eventually(_ready, timeout_s=15)
    finally:
        await http.aclose()
        await runtime.close()


async def test_unreachable_redis_url_does_not_stop_the_service(
    database_url: str, tmp_path: Path, fast_hasher: PasswordHasher
) -> None:
    from support.redis_server import free_port

    settings = Settings(
        database_url=database_url, data_dir=tmp_path, redis_url=f"redis://127.0.0.1:{free_port()}/0"
    )
    runtime, http, headers = await _started(settings, ServiceConfig(), fast_hasher)
    try:
        response = await http.get("/status", headers=headers)
        assert response.status_code == 200
        assert response.json()["dependencies"]["redis"]["status"] == "down"
        assert (await http.get("/health")).status_code == 200
    finally:
        await http.aclose()
        await runtime.close()


@pytest.fixture
async def private_postgres() -> AsyncIterator[PostgresServer]:
    base = make_base_dir()
    server = PostgresServer(base)
    try:
        with server:
            yield server
    finally:
        import shutil

        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.postgres
@pytest.mark.slow
async def test_status_turns_503_while_postgres_is_stopped_and_recovers(
    private_postgres: PostgresServer, tmp_path: Path, fast_hasher: PasswordHasher, backend: str
) -> None:
    if backend != "postgresql" and not os.environ.get("TW_TEST_ALWAYS_PG_OUTAGE"):
        pytest.skip("the PostgreSQL outage test runs in the PostgreSQL pass")
    settings = Settings(database_url=private_postgres.url("postgres"), data_dir=tmp_path)
    runtime, http, headers = await _started(settings, ServiceConfig(), fast_hasher)
    try:
        assert (await http.get("/status", headers=headers)).status_code == 200
        private_postgres.stop()
        # The API key cannot be checked without the database either: /status must still
        # answer 503 (not 500) and the process must keep serving.
        down = await http.get("/status", headers=headers)
        assert down.status_code == 503
        body = down.json()
        assert body["status"] == "down"
        assert body["dependencies"]["database"]["status"] == "down"
        assert body["dependencies"]["database"]["error"]
        assert (await http.get("/health")).status_code == 200
        private_postgres.start()

        async def _recovered() -> bool:
            return (await http.get("/status", headers=headers)).status_code == 200

        await eventually(_recovered, timeout_s=20)
    finally:
        await http.aclose()
        await runtime.close()
