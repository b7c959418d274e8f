from __future__ import annotations

import json
import logging
from io import StringIO
from typing import Any

import pytest
import structlog

from tradewarden.telemetry import configure_logging, get_logger, resolve_log_format

SECRETS = ("hunter2", "tok_abcdef123", "SECRET123", "pgsecret", "exc-secret-456")


def _fail(message: str) -> None:
    raise RuntimeError(message)


def _json_lines(stream: StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_secrets_never_reach_the_json_log_stream() -> None:
    stream = StringIO()
    configure_logging("INFO", "json", stream=stream)
    structlog.contextvars.bind_contextvars(request_id="req-42")
    log = get_logger("tradewarden.test")

    log.info("login", user="bob", password="hunter2")
    log.info("calling upstream", headers={"Authorization": "Bearer tok_abcdef123"})
    log.warning("rpc slow https://rpc.example/?api-key=SECRET123")
    logging.getLogger("uvicorn.error").warning(
        "database at %s unreachable", "postgresql://tw:pgsecret@db:5432/tw"
    )
    try:
        _fail("upstream rejected password=exc-secret-456")
    except RuntimeError:
        log.exception("call failed")
        logging.getLogger("sqlalchemy.engine").exception("stdlib saw it too")

    output = stream.getvalue()
    for secret in SECRETS:
        assert secret not in output
    lines = _json_lines(stream)
    assert len(lines) == 6
    assert all(line["request_id"] == "req-42" for line in lines)
    assert lines[0]["password"] == "***"
    assert lines[1]["headers"] == {"Authorization": "***"}
    assert lines[2]["event"] == "rpc slow https://rpc.example/?api-key=***"
    assert lines[3]["event"] == "database at postgresql://tw:***@db:5432/tw unreachable"
    assert "password=***" in lines[4]["exception"]
    assert "Traceback" in lines[5]["exception"]
    assert "password=***" in lines[5]["exception"]


def test_json_line_carries_timestamp_level_logger_and_event() -> None:
    stream = StringIO()
    configure_logging("INFO", "json", stream=stream)

    get_logger("tradewarden.guard").info("breaker opened", probe="rpc")
    logging.getLogger("alembic.runtime").info("running migration %s", "0001")

    structured, foreign = _json_lines(stream)
    assert structured["event"] == "breaker opened"
    assert structured["level"] == "info"
    assert structured["logger"] == "tradewarden.guard"
    assert structured["timestamp"].endswith("Z")
    assert structured["probe"] == "rpc"
    assert foreign["event"] == "running migration 0001"
    assert foreign["logger"] == "alembic.runtime"
    assert foreign["level"] == "info"
    assert foreign["timestamp"].endswith("Z")


def test_uvicorn_access_log_goes_through_the_same_pipeline() -> None:
    access = logging.getLogger("uvicorn.access")
    access.addHandler(logging.NullHandler())  # as uvicorn's own log config would
    access.propagate = False
    stream = StringIO()
    configure_logging("INFO", "json", stream=stream)

    access.info(
        '%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", "/v1/status?token=abc", "1.1", 200
    )

    (line,) = _json_lines(stream)
    assert line["logger"] == "uvicorn.access"
    assert line["event"] == '127.0.0.1:5000 - "GET /v1/status?token=*** HTTP/1.1" 200'
    assert access.handlers == []


def test_configuring_twice_keeps_one_handler() -> None:
    first, second = StringIO(), StringIO()
    configure_logging("INFO", "json", stream=first)
    configure_logging("INFO", "json", stream=second)

    get_logger("tradewarden.test").info("once")

    assert first.getvalue() == ""
    assert [line["event"] for line in _json_lines(second)] == ["once"]


def test_records_below_the_level_are_dropped() -> None:
    stream = StringIO()
    configure_logging("warning", "json", stream=stream)

    get_logger("tradewarden.test").info("chatty")
    logging.getLogger("sqlalchemy.engine").info("chatty too")
    get_logger("tradewarden.test").warning("kept")

    assert [line["event"] for line in _json_lines(stream)] == ["kept"]


def test_unknown_level_is_refused() -> None:
    with pytest.raises(ValueError, match="VERBOSE"):
        configure_logging("VERBOSE", "json", stream=StringIO())


def test_console_format_is_readable_redacted_and_without_colors_off_a_tty() -> None:
    stream = StringIO()
    configure_logging("INFO", "console", stream=stream)
    structlog.contextvars.bind_contextvars(request_id="req-7")

    get_logger("tradewarden.test").info("login", password="hunter2")
    try:
        _fail("password=exc-secret-456")
    except RuntimeError:
        get_logger("tradewarden.test").exception("failed")

    output = stream.getvalue()
    assert "login" in output
    assert "request_id=req-7" in output
    assert "password=***" in output
    assert "hunter2" not in output
    assert "exc-secret-456" not in output
    assert "Traceback" in output
    assert "\x1b[" not in output


@pytest.mark.parametrize(
    ("settings_fmt", "environment", "isatty", "expected"),
    [
        ("json", "development", True, "json"),
        ("console", "production", False, "console"),
        ("auto", "development", False, "console"),
        ("auto", "production", True, "console"),
        ("auto", "production", False, "json"),
    ],
)
def test_log_format_auto_means_console_for_people_and_json_for_machines(
    settings_fmt: Any, environment: str, isatty: bool, expected: str
) -> None:
    assert resolve_log_format(settings_fmt, environment, isatty) == expected
