"""Serving the registry: the tiny loopback server and the ASGI app."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client import CollectorRegistry

from tradewarden.guard.metrics import MetricsServer, TradingMetrics, metrics_asgi_app

OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"


@pytest.fixture
def registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    TradingMetrics(registry).order_placed("filled")
    return registry


def test_the_server_answers_metrics_and_health_on_loopback(registry: CollectorRegistry) -> None:
    with MetricsServer(registry) as server, httpx.Client(base_url=server.url) as http:
        assert server.url.startswith("http://127.0.0.1:")
        metrics = http.get("/metrics")
        health = http.get("/health")
        missing = http.get("/")
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain")
    assert 'orders_total{status="filled"} 1.0' in metrics.text
    assert health.status_code == 200
    assert health.json() == {"status": "ok"}
    assert missing.status_code == 404


def test_the_server_speaks_openmetrics_and_gzip_when_asked(registry: CollectorRegistry) -> None:
    with MetricsServer(registry) as server, httpx.Client(base_url=server.url) as http:
        open_metrics = http.get("/metrics", headers={"Accept": OPENMETRICS})
        # httpx would decode gzip itself: read the raw bytes.
        zipped = http.get("/metrics", headers={"Accept-Encoding": "gzip"})
        only = http.get("/metrics", params={"name[]": "orders_failed_total"})
    assert open_metrics.headers["content-type"].startswith("application/openmetrics-text")
    assert open_metrics.text.endswith("# EOF\n")
    assert zipped.headers["content-encoding"] == "gzip"
    assert "orders_total" in zipped.text
    assert "orders_failed_total" in only.text
    assert 'status="filled"' not in only.text


def test_health_is_503_when_the_check_fails_or_raises(registry: CollectorRegistry) -> None:
    def broken() -> bool:
        raise RuntimeError("state store gone")

    with (
        MetricsServer(registry, health=lambda: False) as unhealthy,
        MetricsServer(registry, health=broken) as raising,
    ):
        down = httpx.get(f"{unhealthy.url}/health")
        error = httpx.get(f"{raising.url}/health")
    assert down.status_code == 503
    assert down.json() == {"status": "unhealthy"}
    assert error.status_code == 503


def test_a_closed_server_releases_its_port(registry: CollectorRegistry) -> None:
    server = MetricsServer(registry)
    server.start()
    port = server.port
    server.close()
    again = MetricsServer(registry, port=port)
    again.start()
    try:
        assert httpx.get(f"{again.url}/health").status_code == 200
    finally:
        again.close()


async def test_the_asgi_app_serves_the_registry(registry: CollectorRegistry) -> None:
    app = metrics_asgi_app(registry)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bot") as http:
        metrics = await http.get("/metrics")
        open_metrics = await http.get("/metrics", headers={"Accept": OPENMETRICS})
        post = await http.post("/metrics")
    assert metrics.status_code == 200
    assert 'orders_total{status="filled"} 1.0' in metrics.text
    assert open_metrics.text.endswith("# EOF\n")
    assert post.status_code == 405


async def test_the_asgi_app_completes_the_lifespan(registry: CollectorRegistry) -> None:
    app = metrics_asgi_app(registry)
    incoming = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return incoming.pop(0)

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    await app({"type": "lifespan"}, receive, send)
    assert [m["type"] for m in sent] == [
        "lifespan.startup.complete",
        "lifespan.shutdown.complete",
    ]
