"""The service's own /metrics."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client import generate_latest

from tradewarden.api import create_app
from tradewarden.config import ServerConfig, ServiceConfig, Settings
from tradewarden.runtime import Runtime


async def test_metrics_expose_http_process_and_build_info(client: httpx.AsyncClient) -> None:
    await client.get("/health")
    await client.get("/no/such/path")
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'http_requests_total{method="GET",route="/health",status="200"} 1.0' in text
    assert 'route="<unmatched>",status="404"' in text
    assert "/no/such/path" not in text
    assert 'http_request_duration_seconds_bucket{le="0.005",method="GET",route="/health"}' in text
    assert "process_resident_memory_bytes" in text
    assert "tradewarden_build_info{" in text


async def test_two_apps_of_one_runtime_share_its_metrics(runtime: Runtime) -> None:
    apps = [create_app(runtime, manage_runtime=False) for _ in range(2)]
    for app in apps:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://w") as http:
            assert (await http.get("/health")).status_code == 200
    text = generate_latest(runtime.registry).decode()
    assert 'http_requests_total{method="GET",route="/health",status="200"} 2.0' in text


async def test_two_runtimes_in_one_process_do_not_clash(
    runtime: Runtime, settings: Settings
) -> None:
    other = Runtime(settings, ServiceConfig())
    assert other.registry is not runtime.registry
    await other.database.dispose()


class TestMetricsBehindAuth:
    @pytest.fixture
    def service_config(self) -> ServiceConfig:
        return ServiceConfig(server=ServerConfig(metrics_require_auth=True))

    async def test_metrics_can_require_auth(
        self, client: httpx.AsyncClient, admin_headers: dict[str, str]
    ) -> None:
        assert (await client.get("/metrics")).status_code == 401
        assert (await client.get("/metrics", headers=admin_headers)).status_code == 200
