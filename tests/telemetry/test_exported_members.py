from __future__ import annotations

import subprocess
import sys

import tradewarden.telemetry

EXPECTED = {
    "HttpMetrics",
    "LogFormat",
    "configure_logging",
    "get_logger",
    "instrument_app",
    "instrument_engine",
    "instrument_httpx",
    "instrument_redis",
    "redact_secrets",
    "redact_text",
    "redact_url",
    "resolve_log_format",
    "setup_sentry",
    "setup_tracing",
    "shutdown_sentry",
    "shutdown_tracing",
}


def test_public_surface_is_exactly_the_exported_names() -> None:
    public = {name for name in dir(tradewarden.telemetry) if not name.startswith("_")}
    assert set(tradewarden.telemetry.__all__) == EXPECTED
    assert public == EXPECTED


def test_importing_the_package_configures_nothing() -> None:
    probe = """
import logging, sentry_sdk, structlog
from opentelemetry import trace
import tradewarden.telemetry
assert logging.getLogger().handlers == []
assert not structlog.is_configured()
assert not sentry_sdk.get_client().is_active()
assert type(trace.get_tracer_provider()).__name__ == "ProxyTracerProvider"
"""
    subprocess.run([sys.executable, "-W", "error", "-c", probe], check=True, timeout=60)
