"""`tradewarden maintenance list` against a warden served over real HTTP."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from typer.testing import Result

from support.cli import cli_against
from support.warden import serve_runtime
from tradewarden.alerting import MaintenanceWindowConfig
from tradewarden.auth import PasswordHasher, Role
from tradewarden.clock import SystemClock
from tradewarden.config import ServiceConfig, Settings
from tradewarden.runtime import SYSTEM, Runtime

WINDOWS = (
    MaintenanceWindowConfig(
        name="always",
        matchers=('bot="alpha"',),
        cron="* * * * *",
        duration="1h",
        comment="rolling upgrade",
    ),
    MaintenanceWindowConfig.model_validate(
        {
            "name": "long-ago",
            "matchers": ['alertname=~".+"'],
            "starts_at": "2020-01-01T00:00:00+00:00",
            "ends_at": "2020-01-01T01:00:00+00:00",
        }
    ),
)


@pytest.fixture
async def served(settings: Settings, fast_hasher: PasswordHasher) -> AsyncIterator[tuple[str, str]]:
    """Serve the app on a loopback port from this test's loop; yield its URL and a key."""
    config = ServiceConfig(maintenance_windows=WINDOWS)
    runtime = Runtime(settings, config, clock=SystemClock(), hasher=fast_hasher)
    await runtime.start(bootstrap_admin=False)
    key = await runtime.auth.create_api_key("ops", Role.VIEWER, actor=SYSTEM)
    async with serve_runtime(runtime, access_log=False) as url:  # closes the runtime
        yield url, key.key


async def _maintenance(served: tuple[str, str], *args: str) -> Result:
    url, key = served
    return await cli_against(url, key, "maintenance", *args)


async def test_list_shows_each_window_and_whether_it_is_active(served: tuple[str, str]) -> None:
    listed = await _maintenance(served, "list", "--json")
    assert listed.exit_code == 0, listed.output
    # The served app's request log shares this process's stdout: the JSON is the array.
    text = listed.stdout
    windows, _end = json.JSONDecoder().raw_decode(text, text.index("[\n  {"))
    assert [(w["name"], w["active"]) for w in windows] == [("always", True), ("long-ago", False)]
    assert windows[0]["next_end"] is None  # every minute for an hour: no end in sight
    assert (windows[1]["next_start"], windows[1]["next_end"]) == (None, None)
    table = await _maintenance(served, "list")
    assert table.exit_code == 0, table.output
    rows = [line for line in table.stdout.splitlines() if line.startswith("│")]
    assert rows[0].split("│")[1:3] == [" always   ", " yes    "]
    assert rows[0].split("│")[3].strip() == "* * * * *"  # then "for 1h (UTC)", wrapped
    assert any(line.split("│")[1:3] == [" long-ago ", " no     "] for line in rows)


async def test_list_without_a_key_is_refused(served: tuple[str, str]) -> None:
    url, _key = served
    result = await cli_against(url, "tw_not-a-key", "maintenance", "list")
    assert result.exit_code == 1
    assert "401" in result.stderr or "unauthor" in result.stderr.lower()
