from __future__ import annotations

import httpx
import pytest
import redis.asyncio
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from support.eventually import eventually
from support.redis_server import RedisServer
from tradewarden import __version__
from tradewarden.config._settings import Settings
from tradewarden.telemetry import (
    instrument_app,
    instrument_engine,
    instrument_httpx,
    instrument_redis,
    setup_tracing,
    shutdown_tracing,
)

from ._servers import OtlpCollector, ReceivedSpan

ROUTE_SPAN = "GET /v1/rules/{rule_id}"


def _settings(collector: OtlpCollector) -> Settings:
    return Settings(
        otel_enabled=True,
        otel_service_name="tradewarden-test",
        otel_exporter_otlp_endpoint=collector.endpoint,
        otel_exporter_otlp_headers=SecretStr("x-tenant=abc,x-note=two%20words"),
    )


def _app() -> FastAPI:
    app = FastAPI()

    @app.get("/v1/rules/{rule_id}")
    async def read_rule(rule_id: str) -> dict[str, str]:
        return {"id": rule_id}

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


def _named(collector: OtlpCollector, name: str) -> list[ReceivedSpan]:
    return [span for span in collector.spans() if span.name == name]


def _statements(collector: OtlpCollector) -> list[ReceivedSpan]:
    return [span for span in collector.spans() if span.name.startswith("SELECT")]


async def _get(app: FastAPI, *paths: str) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        for path in paths:
            assert (await client.get(path)).status_code == 200


def test_tracing_is_off_unless_enabled() -> None:
    assert setup_tracing(Settings(otel_enabled=False)) is None


def test_instrumenting_without_a_provider_does_nothing() -> None:
    app = _app()
    instrument_app(app, None)
    shutdown_tracing(None)
    assert not getattr(app, "_is_instrumented_by_opentelemetry", False)


async def test_route_span_reaches_the_collector_with_resource_and_headers(
    otlp_collector: OtlpCollector,
) -> None:
    provider = setup_tracing(_settings(otlp_collector))
    assert provider is not None
    app = _app()
    try:
        instrument_app(app, provider)
        await _get(app, "/v1/rules/r1")
    finally:
        shutdown_tracing(provider)

    await eventually(lambda: bool(_named(otlp_collector, ROUTE_SPAN)))
    (span,) = _named(otlp_collector, ROUTE_SPAN)
    assert span.resource["service.name"] == "tradewarden-test"
    assert span.resource["service.version"] == __version__
    assert span.headers["x-tenant"] == "abc"
    assert span.headers["x-note"] == "two words"
    assert span.headers["content-type"] == "application/x-protobuf"


async def test_health_checks_are_not_traced(otlp_collector: OtlpCollector) -> None:
    provider = setup_tracing(_settings(otlp_collector))
    app = _app()
    try:
        instrument_app(app, provider)
        await _get(app, "/health", "/v1/rules/r2")
    finally:
        shutdown_tracing(provider)

    await eventually(lambda: bool(_named(otlp_collector, ROUTE_SPAN)))
    assert not any("health" in span.name for span in otlp_collector.spans())


async def test_shutdown_removes_the_app_instrumentation(otlp_collector: OtlpCollector) -> None:
    app = _app()
    provider = setup_tracing(_settings(otlp_collector))
    instrument_app(app, provider)
    shutdown_tracing(provider)

    await _get(app, "/v1/rules/r3")

    assert otlp_collector.spans() == []
    # The next provider may instrument the same app.
    provider = setup_tracing(_settings(otlp_collector))
    instrument_app(app, provider)
    shutdown_tracing(provider)


async def test_sqlalchemy_statement_span_reaches_the_collector(
    otlp_collector: OtlpCollector,
) -> None:
    provider = setup_tracing(_settings(otlp_collector))
    engine = create_async_engine("sqlite+aiosqlite://")
    try:
        instrument_engine(engine, provider)
        async with engine.connect() as connection:
            assert (await connection.execute(text("SELECT 42"))).scalar_one() == 42
    finally:
        await engine.dispose()
        shutdown_tracing(provider)

    await eventually(lambda: bool(_statements(otlp_collector)))
    (span,) = _statements(otlp_collector)
    assert span.attributes["db.system"] == "sqlite"
    assert span.resource["service.name"] == "tradewarden-test"


async def test_engines_can_be_instrumented_again_after_shutdown(
    otlp_collector: OtlpCollector,
) -> None:
    for attempt in range(2):
        provider = setup_tracing(_settings(otlp_collector))
        engine = create_async_engine("sqlite+aiosqlite://")
        try:
            instrument_engine(engine, provider)
            async with engine.connect() as connection:
                await connection.execute(text(f"SELECT {attempt}"))
        finally:
            await engine.dispose()
            shutdown_tracing(provider)

    await eventually(lambda: len(_statements(otlp_collector)) == 2)


def test_second_provider_cannot_take_a_held_instrumentation(
    otlp_collector: OtlpCollector,
) -> None:
    first = setup_tracing(_settings(otlp_collector))
    second = setup_tracing(_settings(otlp_collector))
    try:
        instrument_httpx(None, first)
        with pytest.raises(RuntimeError, match="already instrumented"):
            instrument_httpx(None, second)
    finally:
        shutdown_tracing(first)
        shutdown_tracing(second)


async def test_httpx_client_request_span_reaches_the_collector(
    otlp_collector: OtlpCollector,
) -> None:
    provider = setup_tracing(_settings(otlp_collector))
    transport = httpx.ASGITransport(app=_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://upstream") as client:
        try:
            instrument_httpx(client, provider)
            await client.get("/v1/rules/r4")
        finally:
            shutdown_tracing(provider)

    await eventually(lambda: bool(otlp_collector.spans()))
    (span,) = otlp_collector.spans()
    assert span.name == "GET"
    # The attribute's name depends on OTEL_SEMCONV_STABILITY_OPT_IN.
    url = span.attributes.get("url.full") or span.attributes.get("http.url")
    assert url == "http://upstream/v1/rules/r4"


@pytest.mark.redis
@pytest.mark.slow
async def test_redis_command_spans_reach_the_collector_until_shutdown(
    otlp_collector: OtlpCollector,
) -> None:
    with RedisServer() as server:
        async with redis.asyncio.Redis.from_url(server.url()) as client:
            provider = setup_tracing(_settings(otlp_collector))
            try:
                instrument_redis(provider)
                await client.set("probe", "ok")
            finally:
                shutdown_tracing(provider)
            await client.get("probe")  # after shutdown: not traced

    await eventually(lambda: bool(_named(otlp_collector, "SET")))
    (span,) = otlp_collector.spans()
    assert span.name == "SET"
    assert span.attributes["db.system"] == "redis"


@pytest.mark.redis
@pytest.mark.slow
async def test_one_redis_client_can_be_traced_alone(otlp_collector: OtlpCollector) -> None:
    with RedisServer() as server:
        async with (
            redis.asyncio.Redis.from_url(server.url()) as traced,
            redis.asyncio.Redis.from_url(server.url()) as untraced,
        ):
            provider = setup_tracing(_settings(otlp_collector))
            try:
                instrument_redis(provider, client=traced)
                await traced.set("probe", "ok")
                await untraced.get("probe")
            finally:
                shutdown_tracing(provider)

    await eventually(lambda: bool(otlp_collector.spans()))
    assert [span.name for span in otlp_collector.spans()] == ["SET"]
