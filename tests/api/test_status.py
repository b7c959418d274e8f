"""Readiness (/status): a verdict per dependency, 503 when a critical one is down."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from support.eventually import eventually
from support.net import free_port
from support.postgres_server import PostgresServer, make_base_dir
from support.redis_server import RedisServer
from tradewarden.api import create_app
from tradewarden.auth import PasswordHasher, Role
from tradewarden.clock import ManualClock
from tradewarden.config import ControlConfig, RedisConfig, ServerConfig, ServiceConfig, Settings
from tradewarden.health import _checks
from tradewarden.runtime import SYSTEM, Runtime


async def test_status_needs_auth(client: httpx.AsyncClient) -> None:
    assert (await client.get("/status")).status_code == 401


@pytest.fixture
def never_slow(monkeypatch: pytest.MonkeyPatch) -> None:
    """A dependency slower than 500 ms reads degraded; a loaded CI machine's database can
    take that long, and these tests are about the shape of a healthy answer."""
    monkeypatch.setattr(_checks, "SLOW_MS", float("inf"))


def test_a_slow_dependency_is_degraded_not_up() -> None:
    assert _checks._timed_status(_checks.SLOW_MS + 1) == "degraded"
    assert _checks._timed_status(_checks.SLOW_MS) == "up"


@pytest.mark.usefixtures("never_slow")
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


@pytest.mark.usefixtures("never_slow")
async def test_v1_status_is_the_same(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await client.get("/v1/status", headers=admin_headers)
    assert response.json()["status"] == "ok"


@dataclass
class Warden:
    """A started runtime, a client bound to its app, and a viewer key."""

    runtime: Runtime
    http: httpx.AsyncClient
    headers: dict[str, str]

    async def status(self) -> httpx.Response:
        return await self.http.get("/status", headers=self.headers)

    async def status_code_is(self, code: int) -> bool:
        return (await self.status()).status_code == code


StartWarden = Callable[..., Awaitable[Warden]]


@pytest.fixture
async def start_warden(
    tmp_path: Path, fast_hasher: PasswordHasher, database_url: str
) -> AsyncIterator[StartWarden]:
    """Return a factory of started wardens (on this test's database unless told); close them."""
    started: list[Warden] = []

    async def start(config: ServiceConfig | None = None, **settings: str) -> Warden:
        # Outage tests want every request to check again: no cached readiness.
        config = config or ServiceConfig(server=ServerConfig(status_cache_s=0))
        settings.setdefault("database_url", database_url)
        runtime = Runtime(
            Settings(data_dir=tmp_path, **settings),  # type: ignore[arg-type]
            config,
            clock=ManualClock(),
            hasher=fast_hasher,
        )
        await runtime.start(bootstrap_admin=False)
        key = await runtime.auth.create_api_key("status", Role.VIEWER, actor=SYSTEM)
        app = create_app(runtime, manage_runtime=False)
        http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://w")
        warden = Warden(runtime, http, {"Authorization": f"Bearer {key.key}"})
        started.append(warden)
        return warden

    yield start
    for warden in started:
        await warden.http.aclose()
        await warden.runtime.close()


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    with RedisServer(tmp_path / "redis") as server:
        yield server


@pytest.mark.redis
async def test_redis_is_reported_with_pool_statistics(
    start_warden: StartWarden, private_redis: RedisServer
) -> None:
    warden = await start_warden(redis_url=private_redis.url())
    redis = warden.runtime.redis
    await eventually(lambda: redis is not None and redis.status == "ready")
    body = (await warden.status()).json()
    reported = body["dependencies"]["redis"]
    assert reported["status"] == "up"
    assert reported["pool"]["status"] == "ready"
    assert reported["pool"]["connected"] is True
    assert {"command_queue_length", "offline_queue_length"} <= set(reported["pool"])


@pytest.mark.redis
async def test_optional_redis_down_degrades_but_stays_200(
    start_warden: StartWarden, private_redis: RedisServer
) -> None:
    warden = await start_warden(redis_url=private_redis.url())
    private_redis.stop()
    response = await warden.status()
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["dependencies"]["redis"]["status"] == "down"
    assert body["dependencies"]["redis"]["error"]


@pytest.mark.redis
async def test_required_redis_down_gives_503_and_recovers(
    start_warden: StartWarden, private_redis: RedisServer
) -> None:
    config = ServiceConfig(
        server=ServerConfig(status_cache_s=0),
        redis=RedisConfig(required=True, health_check_interval_s=0.05),
    )
    warden = await start_warden(config, redis_url=private_redis.url())
    private_redis.stop()
    assert await warden.status_code_is(503)
    private_redis.start()
    await eventually(lambda: warden.status_code_is(200), timeout_s=15)


async def test_unreachable_redis_url_does_not_stop_the_service(start_warden: StartWarden) -> None:
    warden = await start_warden(redis_url=f"redis://127.0.0.1:{free_port()}/0")
    response = await warden.status()
    assert response.status_code == 200
    assert response.json()["dependencies"]["redis"]["status"] == "down"
    assert (await warden.http.get("/health")).status_code == 200


@pytest.fixture
def private_postgres() -> Iterator[PostgresServer]:
    base = make_base_dir()
    try:
        with PostgresServer(base) as server:
            yield server
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.postgres
@pytest.mark.slow
async def test_status_turns_503_while_postgres_is_stopped_and_recovers(
    start_warden: StartWarden, private_postgres: PostgresServer, backend: str
) -> None:
    if backend != "postgresql" and not os.environ.get("TW_TEST_ALWAYS_PG_OUTAGE"):
        pytest.skip("the PostgreSQL outage test runs in the PostgreSQL pass")
    warden = await start_warden(database_url=private_postgres.url("postgres"))
    assert await warden.status_code_is(200)
    private_postgres.stop()
    # The API key cannot be checked without the database either: /status must still
    # answer 503 (not 500) and the process must keep serving.
    down = await warden.status()
    assert down.status_code == 503
    body = down.json()
    assert body["status"] == "down"
    assert body["dependencies"]["database"]["status"] == "down"
    assert body["dependencies"]["database"]["error"]
    assert (await warden.http.get("/health")).status_code == 200
    private_postgres.start()
    await eventually(lambda: warden.status_code_is(200), timeout_s=20)


async def test_readiness_is_cached_for_its_max_age(
    client: httpx.AsyncClient, admin_headers: dict[str, str], clock: ManualClock
) -> None:
    first = (await client.get("/status", headers=admin_headers)).json()
    clock.advance(0.5)
    second = (await client.get("/status", headers=admin_headers)).json()
    assert second["checked_at"] == first["checked_at"]
    clock.advance(0.6)
    third = (await client.get("/status", headers=admin_headers)).json()
    assert third["checked_at"] != first["checked_at"]


async def test_concurrent_requests_share_one_check(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    pings = 0
    release = asyncio.Event()
    original = runtime.database.ping

    async def counted_ping() -> float:
        nonlocal pings
        pings += 1
        await release.wait()
        return await original()

    monkeypatch.setattr(runtime.database, "ping", counted_ping)
    waiting = [asyncio.ensure_future(runtime.readiness.report()) for _ in range(10)]
    await eventually(lambda: pings == 1)
    release.set()
    reports = await asyncio.gather(*waiting)
    assert pings == 1
    assert {report.verdict for report in reports} == {"ok"}


async def test_status_carries_the_trading_state_and_its_back_end(
    start_warden: StartWarden,
) -> None:
    warden = await start_warden()
    response = await warden.status()
    assert response.text.startswith('{"status":"ok",')
    body = response.json()
    assert body["trading_state"] == "ACTIVE"
    store = body["dependencies"]["trading_state"]
    assert store["status"] == "up"
    assert store["critical"] is False
    assert (store["backend"], store["state"], store["version"]) == ("file", "ACTIVE", 0)
    assert warden.runtime.control is not None
    await warden.runtime.control.trading.halt("operator:alice", "drill")
    body = (await warden.status()).json()
    assert body["trading_state"] == "HALTED"
    assert body["dependencies"]["trading_state"]["version"] == 1


def corrupt_state_file(tmp_path: Path, *, required: bool = False) -> ServiceConfig:
    path = tmp_path / "bad-state.db"
    path.write_bytes(b"this is not a database, it is garbage" * 200)
    control = ControlConfig(trading_state_file=path, trading_state_required=required)
    return ServiceConfig(server=ServerConfig(status_cache_s=0), control=control)


async def test_an_unreadable_trading_state_degrades_but_stays_200(
    start_warden: StartWarden, tmp_path: Path
) -> None:
    warden = await start_warden(corrupt_state_file(tmp_path))
    response = await warden.status()
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["trading_state"] is None  # not a guess
    store = body["dependencies"]["trading_state"]
    assert store["status"] == "down"
    assert "not a database" in store["error"]


async def test_a_required_trading_state_down_gives_503(
    start_warden: StartWarden, tmp_path: Path
) -> None:
    warden = await start_warden(corrupt_state_file(tmp_path, required=True))
    response = await warden.status()
    assert response.status_code == 503
    assert response.json()["status"] == "down"
    assert response.json()["dependencies"]["trading_state"]["critical"] is True


async def test_a_trading_state_redis_that_is_down_is_reported_without_its_password(
    start_warden: StartWarden,
) -> None:
    config = ServiceConfig(
        server=ServerConfig(status_cache_s=0),
        control=ControlConfig(trading_state_backend="redis", redis_timeout_s=0.5),
    )
    url = f"redis://:hunter2-secret@127.0.0.1:{free_port()}/0"
    warden = await start_warden(config, redis_url=url)
    response = await warden.status()
    assert response.status_code == 200
    store = response.json()["dependencies"]["trading_state"]
    assert (store["status"], store["backend"]) == ("down", "redis")
    assert store["error"]
    assert "hunter2-secret" not in response.text
