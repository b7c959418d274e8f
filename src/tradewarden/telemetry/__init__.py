"""Logs, traces and error reports: configured explicitly at start-up, never at import."""

from tradewarden.telemetry._logging import (
    LogFormat,
    configure_logging,
    get_logger,
    resolve_log_format,
)
from tradewarden.telemetry._metrics import HttpMetrics
from tradewarden.telemetry._redact import redact_secrets, redact_text, redact_url
from tradewarden.telemetry._sentry import setup_sentry, shutdown_sentry
from tradewarden.telemetry._tracing import (
    instrument_app,
    instrument_engine,
    instrument_httpx,
    instrument_redis,
    setup_tracing,
    shutdown_tracing,
)

__all__ = [
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
]
