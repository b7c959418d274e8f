"""GET /v1/admin/metrics/system."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from probes._queue_workers import bull_queue, fill_bullmq
from probes._solana_server import SolanaNode
from support.http import bearer
from support.redis_server import RedisServer
from tradewarden.api import create_app
from tradewarden.auth import PasswordHasher, Role
from tradewarden.clock import ManualClock
from tradewarden.config import ServiceConfig, Settings
from tradewarden.probes.kinds import HeartbeatSpec, QueueSpec, SolanaRpcSpec
from tradewarden.runtime import SYSTEM, Runtime


async def test_system_metrics_without_probes_or_redis(
    client: httpx.AsyncClient, admin_headers: dict[str, str], backend: str
) -> None:
    response = await client.get("/v1/admin/metrics/system", headers=admin_headers)
    assert response.status_code == 200
    body = response.json()
    assert body["warden"]["memory_rss_bytes"] > 0
    assert body["warden"]["pid"] > 0
    assert body["database"]["status"] == "up"
    assert body["database"]["backend"] == backend
    assert body["redis"] == {"status": "not_configured"}
    assert body["monitors"] == {"running": False}


async def test_system_metrics_are_admin_only(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    key = (
        await client.post(
            "/v1/admin/api-keys", json={"name": "op", "role": "operator"}, headers=admin_headers
        )
    ).json()["key"]
    assert (await client.get("/v1/admin/metrics/system", headers=bearer(key))).status_code == 403


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    with RedisServer(tmp_path / "redis") as server:
        yield server


@pytest.mark.redis
async def test_system_metrics_with_redis_and_monitors(
    settings: Settings, fast_hasher: PasswordHasher, private_redis: RedisServer
) -> None:
    config = ServiceConfig(monitors=(HeartbeatSpec(name="loop", period_s=60),))
    runtime = Runtime(
        Settings(
            database_url=settings.database_url,
            data_dir=settings.data_dir,
            redis_url=private_redis.url(),
        ),
        config,
        clock=ManualClock(),
        hasher=fast_hasher,
    )
    await runtime.start(bootstrap_admin=False, run_probes=True)
    try:
        key = await runtime.auth.create_api_key("admin", Role.ADMIN, actor=SYSTEM)
        transport = httpx.ASGITransport(app=create_app(runtime, manage_runtime=False))
        async with httpx.AsyncClient(transport=transport, base_url="http://w") as http:
            body = (await http.get("/v1/admin/metrics/system", headers=bearer(key.key))).json()
        assert body["redis"]["status"] == "up"
        assert body["redis"]["used_memory_bytes"] > 0
        assert body["redis"]["connected_clients"] >= 1
        assert body["monitors"]["monitors"] == 1
        assert body["monitors"]["by_state"] == {"PENDING": 1}
    finally:
        await runtime.close()


async def test_rpc_metrics_per_provider(settings: Settings, fast_hasher: PasswordHasher) -> None:
    async with SolanaNode() as paid, SolanaNode(lag=200) as public:
        config = ServiceConfig(
            monitors=(
                SolanaRpcSpec(
                    name="solana",
                    providers=[
                        {"name": "paid", "url": paid.url("?api-key=SECRETKEY"), "priority": 1},
                        {"name": "public", "url": public.url(), "priority": 2},
                    ],
                    interval_s=3600,
                ),
            )
        )
        runtime = Runtime(settings, config, clock=ManualClock(), hasher=fast_hasher)
        await runtime.start(bootstrap_admin=False, run_probes=True)
        try:
            assert runtime.scheduler is not None
            await runtime.scheduler.run_now("solana")
            key = await runtime.auth.create_api_key("admin", Role.ADMIN, actor=SYSTEM)
            transport = httpx.ASGITransport(app=create_app(runtime, manage_runtime=False))
            async with httpx.AsyncClient(transport=transport, base_url="http://w") as http:
                response = await http.get("/v1/admin/metrics/rpc", headers=bearer(key.key))
        finally:
            await runtime.close()
    assert "SECRETKEY" not in response.text
    (monitor,) = response.json()["monitors"]
    assert monitor["monitor"] == "solana"
    assert monitor["state"] == "DEGRADED"
    providers = {item["provider"]: item for item in monitor["providers"]}
    assert providers["paid"]["healthy"] is True
    assert providers["paid"]["slot_lag"] == 0
    assert providers["public"]["slot_lag"] == 200
    assert providers["public"]["healthy"] is False
    assert {"getHealth", "getSlot", "getLatestBlockhash"} <= set(providers["paid"]["latency_s"])


@pytest.mark.redis
@pytest.mark.slow
async def test_queue_metrics_over_a_time_range(
    settings: Settings, fast_hasher: PasswordHasher, private_redis: RedisServer
) -> None:
    async with bull_queue(private_redis.url()) as queue:
        oldest_s = await fill_bullmq(queue, private_redis.url())
    clock = ManualClock(start=oldest_s + 60)
    config = ServiceConfig(
        monitors=(
            QueueSpec(
                name="jobs",
                backend="bullmq",
                url=private_redis.url(),
                queues=["orders"],
                interval_s=3600,
            ),
        )
    )
    runtime = Runtime(settings, config, clock=clock, hasher=fast_hasher)
    await runtime.start(bootstrap_admin=False, run_probes=True)
    try:
        key = await runtime.auth.create_api_key("admin", Role.ADMIN, actor=SYSTEM)
        transport = httpx.ASGITransport(app=create_app(runtime, manage_runtime=False))
        async with httpx.AsyncClient(transport=transport, base_url="http://w") as http:
            day = await http.get(
                "/v1/admin/metrics/queues", params={"timeRange": "24h"}, headers=bearer(key.key)
            )
            default = await http.get("/v1/admin/metrics/queues", headers=bearer(key.key))
            bad = await http.get(
                "/v1/admin/metrics/queues", params={"timeRange": "2w"}, headers=bearer(key.key)
            )
    finally:
        await runtime.close()
    assert default.json()["timeRange"] == "24h"
    (monitor,) = day.json()["monitors"]
    (orders,) = monitor["queues"]
    assert orders["queue"] == "orders"
    assert (orders["completed"], orders["failed"]) == (3, 2)
    assert orders["failure_rate"] == pytest.approx(0.4)
    assert orders["avg_processing_s"] > 0
    assert orders["oldest_waiting_s"] == pytest.approx(60, abs=1)
    assert bad.status_code == 422
    error = bad.json()["error"]
    assert error["fields"][0]["field"] == "query.timeRange"
    assert "'1h', '24h', '7d' or '30d'" in error["fields"][0]["message"]
