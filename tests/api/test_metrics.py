"""The service's own /metrics."""

from __future__ import annotations

import httpx
import pytest

from tradewarden.config import ServerConfig, ServiceConfig


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


async def test_two_apps_have_separate_registries(client: httpx.AsyncClient) -> None:
    # No global registry: building a second runtime in the same process must not clash.
    from tradewarden.runtime import build_registry

    first, second = build_registry(), build_registry()
    assert first is not second


class TestMetricsBehindAuth:
    @pytest.fixture
    def service_config(self) -> ServiceConfig:
        return ServiceConfig(server=ServerConfig(metrics_require_auth=True))

    async def test_metrics_can_require_auth(
        self, client: httpx.AsyncClient, admin_headers: dict[str, str]
    ) -> None:
        assert (await client.get("/metrics")).status_code == 401
        assert (await client.get("/metrics", headers=admin_headers)).status_code == 200
