"""Error reporting to Sentry, scrubbed of secrets before anything leaves the process."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

import sentry_sdk

from tradewarden._version import __version__
from tradewarden.telemetry._redact import MASK, redact_mapping, redact_text

if TYPE_CHECKING:
    from sentry_sdk.types import Event, Hint

    from tradewarden.config._settings import Settings

__all__ = ["setup_sentry", "shutdown_sentry"]

_SHUTDOWN_TIMEOUT_S = 2.0


def setup_sentry(settings: Settings) -> bool:
    """Start reporting errors to Sentry; return False, and do nothing, without a DSN."""
    dsn = settings.sentry_dsn.get_secret_value() if settings.sentry_dsn else ""
    if not dsn:
        return False
    sentry_sdk.init(
        dsn=dsn,
        environment=settings.sentry_environment or settings.environment,
        release=f"tradewarden@{__version__}",
        # 0 would still start (unsampled) transactions on every request: None turns
        # Sentry's performance tracing off; OpenTelemetry does the tracing.
        traces_sample_rate=settings.sentry_traces_sample_rate or None,
        # send_default_pii is left unset, which means False (no personal data): passing
        # False explicitly raises a DeprecationWarning since sentry-sdk 2.75.
        before_send=_scrub_event,
        before_send_transaction=_scrub_event,
    )
    return True


def shutdown_sentry() -> None:
    """Send the events still queued, close the client and fall back to the no-op one."""
    client = sentry_sdk.get_client()
    if client.is_active():
        client.close(timeout=_SHUTDOWN_TIMEOUT_S)
    # A closed client still reports itself active; the no-op client is what init replaced.
    sentry_sdk.get_global_scope().set_client(None)


def _scrub_event(event: Event, _hint: Hint) -> Event | None:
    """Mask secrets anywhere in the event: request, exception text, breadcrumbs, frames."""
    scrubbed = redact_mapping(cast("dict[str, Any]", event))
    request = scrubbed.get("request")
    if isinstance(request, dict):
        if request.get("cookies"):
            request["cookies"] = MASK
        query = request.get("query_string")
        if isinstance(query, str) and query:
            # Redaction knows query parameters by the `?` or `&` before them.
            request["query_string"] = redact_text(f"?{query}")[1:]
    return cast("Event", scrubbed)
