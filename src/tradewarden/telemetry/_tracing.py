"""OpenTelemetry traces, exported over OTLP/HTTP, with an explicit tracer provider.

The provider is never made global (no ``trace.set_tracer_provider``): it is passed to each
instrumentation, so that two apps, or two tests, never share one by accident. Every
``instrument_*`` call records how to undo itself; ``shutdown_tracing`` undoes them all.

The SQLAlchemy, Redis and global httpx instrumentors patch their library process-wide
and exist once per process: each serves one provider (and SQLAlchemy's one engine) at a
time; asking for a second raises RuntimeError instead of tracing into the first.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING
from weakref import WeakKeyDictionary

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.util.re import parse_env_headers

from tradewarden._version import __version__

if TYPE_CHECKING:
    import httpx
    import redis
    import redis.asyncio
    from fastapi import FastAPI
    from sqlalchemy.engine import Engine
    from sqlalchemy.ext.asyncio import AsyncEngine

    from tradewarden.config._settings import Settings

__all__ = [
    "instrument_app",
    "instrument_engine",
    "instrument_httpx",
    "instrument_redis",
    "setup_tracing",
    "shutdown_tracing",
]

DEFAULT_OTLP_ENDPOINT = "http://localhost:4318"
# Probes and scrapes arrive every few seconds and would drown the traces worth reading.
EXCLUDED_URLS = "/health$,/v1/health$,/metrics$"
_FLUSH_TIMEOUT_MS = 5_000

_logger = logging.getLogger(__name__)

# Undo actions of each provider's instrumentations, newest last.
_undo: WeakKeyDictionary[TracerProvider, list[Callable[[], None]]] = WeakKeyDictionary()


def setup_tracing(settings: Settings) -> TracerProvider | None:
    """Build a tracer provider exporting to the OTLP endpoint, or None if tracing is off."""
    if not settings.otel_enabled:
        return None
    resource = Resource.create(
        {
            "service.name": settings.otel_service_name,
            "service.version": __version__,
            "deployment.environment.name": settings.environment,
        }
    )
    headers = settings.otel_exporter_otlp_headers
    exporter = OTLPSpanExporter(
        endpoint=_traces_endpoint(settings.otel_exporter_otlp_endpoint),
        headers=_parse_otlp_headers(headers.get_secret_value() if headers else ""),
    )
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def _traces_endpoint(base: str | None) -> str:
    """Return the traces URL for an ``OTEL_EXPORTER_OTLP_ENDPOINT`` base URL."""
    base = (base or DEFAULT_OTLP_ENDPOINT).rstrip("/")
    # The variable is specified as a base URL; tolerate the full signal URL all the same.
    return base if base.endswith("/v1/traces") else f"{base}/v1/traces"


def _parse_otlp_headers(value: str) -> dict[str, str]:
    """Parse ``OTEL_EXPORTER_OTLP_HEADERS`` (``k1=v1,k2=v2``, values URL-encoded)."""
    return dict(parse_env_headers(value, liberal=True))


def instrument_app(app: FastAPI, provider: TracerProvider | None) -> None:
    """Trace every request the app serves, except health checks and metric scrapes."""
    if provider is None:
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    if getattr(app, "_is_instrumented_by_opentelemetry", False):
        raise RuntimeError("this FastAPI app is already instrumented")
    FastAPIInstrumentor.instrument_app(app, tracer_provider=provider, excluded_urls=EXCLUDED_URLS)
    _remember(provider, lambda: FastAPIInstrumentor.uninstrument_app(app))


def instrument_engine(engine: AsyncEngine | Engine, provider: TracerProvider | None) -> None:
    """Trace the statements the SQLAlchemy engine runs."""
    if provider is None:
        return
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
    from sqlalchemy.ext.asyncio import AsyncEngine

    instrumentor = SQLAlchemyInstrumentor()
    _claim(instrumentor, "SQLAlchemy")
    sync_engine = engine.sync_engine if isinstance(engine, AsyncEngine) else engine
    # The instrumentation declares `sqlalchemy < 2.1` and refuses newer versions unless
    # told otherwise; it works on 2.1 (tests/telemetry cover it).
    instrumentor.instrument(engine=sync_engine, tracer_provider=provider, skip_dep_check=True)
    _remember(provider, instrumentor.uninstrument)


def instrument_redis(
    provider: TracerProvider | None, *, client: redis.Redis | redis.asyncio.Redis | None = None
) -> None:
    """Trace Redis commands: of ``client`` only, or of every client when it is None."""
    if provider is None:
        return
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    if client is not None:
        RedisInstrumentor.instrument_client(client, tracer_provider=provider)
        _remember(provider, lambda: RedisInstrumentor.uninstrument_client(client))
        return
    instrumentor = RedisInstrumentor()
    _claim(instrumentor, "Redis")
    instrumentor.instrument(tracer_provider=provider)
    _remember(provider, instrumentor.uninstrument)


def instrument_httpx(
    client: httpx.Client | httpx.AsyncClient | None, provider: TracerProvider | None
) -> None:
    """Trace outgoing HTTP requests: of ``client`` only, or of every client when it is None."""
    if provider is None:
        return
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    if client is not None:
        HTTPXClientInstrumentor.instrument_client(client, tracer_provider=provider)
        _remember(provider, lambda: HTTPXClientInstrumentor.uninstrument_client(client))
        return
    instrumentor = HTTPXClientInstrumentor()
    _claim(instrumentor, "httpx")
    instrumentor.instrument(tracer_provider=provider)
    _remember(provider, instrumentor.uninstrument)


def shutdown_tracing(provider: TracerProvider | None) -> None:
    """Undo the provider's instrumentations, export the spans still buffered, and stop."""
    if provider is None:
        return
    for undo in reversed(_undo.pop(provider, [])):
        try:
            undo()
        except Exception:
            # One failed undo must not keep the others, or the final export, from running.
            _logger.exception("could not remove an OpenTelemetry instrumentation")
    provider.force_flush(timeout_millis=_FLUSH_TIMEOUT_MS)
    provider.shutdown()


def _remember(provider: TracerProvider, undo: Callable[[], None]) -> None:
    _undo.setdefault(provider, []).append(undo)


def _claim(instrumentor: object, library: str) -> None:
    # The instrumentor is a process-wide singleton: instrumenting again would only log a
    # warning and keep tracing into the first provider.
    if getattr(instrumentor, "is_instrumented_by_opentelemetry", False):
        raise RuntimeError(
            f"{library} is already instrumented: shut the other tracer provider down first"
        )
