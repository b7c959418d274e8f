"""Structured logs: one pipeline for structlog and for every stdlib logger we host.

structlog hands its events to stdlib ``logging``; one root handler renders them, and the
records of uvicorn, SQLAlchemy and alembic, through ``structlog.stdlib.ProcessorFormatter``.
Redaction runs in that formatter, so no line leaves the process unredacted, whoever wrote it.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Literal, TextIO

import structlog
from structlog.typing import Processor

from tradewarden.telemetry._redact import redact_secrets

__all__ = ["LogFormat", "configure_logging", "get_logger", "resolve_log_format"]

LogFormat = Literal["json", "console"]

# uvicorn installs its own handlers; ours must render its lines, access log included.
_HOSTED_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


class _RootHandler(logging.StreamHandler[TextIO]):
    """The root handler configure_logging installs, found again by its type."""


def resolve_log_format(
    settings_fmt: Literal["auto", "json", "console"], environment: str, isatty: bool
) -> LogFormat:
    """Return the format to log in: "auto" means console for people, JSON for machines."""
    if settings_fmt != "auto":
        return settings_fmt
    return "console" if environment == "development" or isatty else "json"


def configure_logging(level: str, fmt: LogFormat, *, stream: TextIO | None = None) -> None:
    """Route structlog and stdlib logging to ``stream`` (stderr), redacted, in ``fmt``.

    Calling it again replaces the previous configuration instead of adding to it.
    """
    numeric_level = logging.getLevelNamesMapping().get(level.upper())
    if numeric_level is None:
        raise ValueError(f"unknown log level: {level!r}")
    # stderr by default: stdout belongs to the CLI's own output, which scripts parse.
    output = stream if stream is not None else sys.stderr

    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        structlog.stdlib.PositionalArgumentsFormatter(),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        # Caching would pin module-level loggers to the first configuration; the CLI and
        # the tests configure more than once.
        cache_logger_on_first_use=False,
    )

    renderer: Processor
    if fmt == "json":
        renderer = structlog.processors.JSONRenderer()
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=_wants_colors(output))
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            # Tracebacks become text before redaction, in console mode too: the pretty
            # console formatter would print frames and locals that redaction never saw.
            structlog.processors.format_exc_info,
            redact_secrets,
            renderer,
        ],
    )
    handler = _RootHandler(output)
    handler.setFormatter(formatter)

    root = logging.getLogger()
    for previous in [h for h in root.handlers if isinstance(h, _RootHandler)]:
        root.removeHandler(previous)
    root.addHandler(handler)
    root.setLevel(numeric_level)

    for name in _HOSTED_LOGGERS:
        hosted = logging.getLogger(name)
        for own in list(hosted.handlers):
            hosted.removeHandler(own)
        hosted.propagate = True
        hosted.setLevel(logging.NOTSET)


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    """Return the structlog logger called ``name`` (a module's ``__name__``)."""
    return structlog.stdlib.get_logger(name)


def _wants_colors(stream: TextIO) -> bool:
    # https://no-color.org: any value of NO_COLOR turns colours off.
    isatty = getattr(stream, "isatty", None)
    return callable(isatty) and bool(isatty()) and "NO_COLOR" not in os.environ
