"""A 503 from the warden: `status` prints the report it carries; every other command fails."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from typer.testing import Result

from support.cli import cli_against

DOWN = {
    "status": "down",
    "version": "9.9.9",
    "uptime_s": 3,
    "dependencies": {
        "database": {"status": "down", "critical": True, "error": "connection refused"}
    },
}
UNAVAILABLE = {"error": {"code": "unavailable", "message": "the store is unreachable"}}


@pytest.fixture
async def warden() -> AsyncIterator[str]:
    """A loopback server answering 503 as the warden does when its store is down."""

    async def status(_request: web.Request) -> web.Response:
        return web.json_response(DOWN, status=503)

    async def other(_request: web.Request) -> web.Response:
        return web.json_response(UNAVAILABLE, status=503)

    application = web.Application()
    application.router.add_get("/status", status)
    application.router.add_route("*", "/{tail:.*}", other)
    runner = web.AppRunner(application)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def _run(url: str, *args: str) -> Result:
    return await cli_against(url, "unused", *args)


async def test_status_prints_what_is_down_and_exits_1(warden: str) -> None:
    result = await _run(warden, "status")
    assert result.exit_code == 1, result.output
    assert "down" in result.output
    assert "connection refused" in result.output


@pytest.mark.parametrize(
    "args",
    [
        ("silence", "list"),
        ("monitor", "list"),
        ("oncall", "show"),
        ("state",),
        ("breaker", "list"),
        ("escalations",),
        ("queue", "retry-failed", "jobs", "emails", "--reason", "r"),
    ],
)
async def test_any_other_command_fails_on_a_503(warden: str, args: tuple[str, ...]) -> None:
    result = await _run(warden, *args)
    assert result.exit_code == 1, result.output
    assert "the warden answered 503: the store is unreachable" in result.output
