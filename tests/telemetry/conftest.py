from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import structlog

from tradewarden.telemetry import shutdown_sentry

from ._servers import OtlpCollector, SentryIngest

_HOSTED = ("uvicorn", "uvicorn.error", "uvicorn.access")


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """Undo configure_logging so that other test modules see logging as they left it."""
    root = logging.getLogger()
    root_handlers, root_level = list(root.handlers), root.level
    hosted = {}
    for name in _HOSTED:
        lg = logging.getLogger(name)
        hosted[name] = (list(lg.handlers), lg.propagate, lg.level)
    yield
    for handler in [h for h in root.handlers if h not in root_handlers]:
        root.removeHandler(handler)
    root.setLevel(root_level)
    for name, (handlers, propagate, level) in hosted.items():
        lg = logging.getLogger(name)
        lg.handlers[:] = handlers
        lg.propagate = propagate
        lg.setLevel(level)
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()


@pytest.fixture
def otlp_collector() -> Iterator[OtlpCollector]:
    with OtlpCollector() as collector:
        yield collector


@pytest.fixture
def sentry_ingest() -> Iterator[SentryIngest]:
    with SentryIngest() as ingest:
        yield ingest
        # Close the client before the server goes, even when the test failed half-way.
        shutdown_sentry()
