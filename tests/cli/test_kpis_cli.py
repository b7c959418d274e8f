"""`tradewarden kpis` and `kpis weekly-review` against a warden served over real HTTP."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from typer.testing import Result

from kpis.conftest import seed
from support.cli import cli_against
from support.warden import serve_runtime
from tradewarden.auth import PasswordHasher, Role
from tradewarden.clock import ManualClock, utc_datetime
from tradewarden.config import ServiceConfig, Settings
from tradewarden.runtime import SYSTEM, Runtime

pytestmark = [pytest.mark.slow]


@pytest.fixture
async def served(settings: Settings, fast_hasher: PasswordHasher) -> AsyncIterator[tuple[str, str]]:
    """Serve a warden over a seeded store; yield its URL and a viewer's key."""
    clock = ManualClock(start=1_800_000_000.0)
    runtime = Runtime(settings, ServiceConfig(), clock=clock, hasher=fast_hasher)
    await runtime.start(bootstrap_admin=False)
    await seed(runtime.database, utc_datetime(clock.now()))
    key = await runtime.auth.create_api_key("viewer", Role.VIEWER, actor=SYSTEM)
    async with serve_runtime(runtime, access_log=False) as url:
        yield url, key.key


async def _run(served: tuple[str, str], *args: str) -> Result:
    url, key = served
    return await cli_against(url, key, *args)


async def test_kpis_as_a_table_and_as_json(served: tuple[str, str]) -> None:
    table = await _run(served, "kpis")
    assert table.exit_code == 0, table.output
    assert "mttr" in table.output
    assert "30m" in table.output
    assert "not met" in table.output
    assert "incidents: 4 (1 open, 1 false positives)" in table.output
    raw = await _run(served, "kpis", "--json", "--from", "1799913540", "--to", "1800000000")
    assert raw.exit_code == 0, raw.output
    # The served warden logs its request line to the same stdout first.
    body = json.loads(raw.output[raw.output.index("{\n") :])
    assert body["incidents"]["total"] == 2
    assert body["window"]["from"] == "2027-01-14T07:59:00+00:00"


async def test_a_bad_window_fails_naming_the_field(served: tuple[str, str]) -> None:
    result = await _run(served, "kpis", "--from", "2027-01-15T00:00:00Z", "--to", "2027-01-01")
    assert result.exit_code == 1
    assert "422" in result.output
    assert "query.to" in result.output


async def test_the_weekly_review_printed_and_written(
    served: tuple[str, str], tmp_path: Path
) -> None:
    printed = await _run(served, "kpis", "weekly-review", "--week", "2027-W02")
    assert printed.exit_code == 0, printed.output
    assert "# Weekly health check — 2027-W02" in printed.output
    target = tmp_path / "review.md"
    written = await _run(served, "kpis", "weekly-review", "--week", "2027-W02", "-o", str(target))
    assert written.exit_code == 0, written.output
    assert f"wrote the review of 2027-W02 to {target}" in written.output
    text = target.read_text(encoding="utf-8")
    assert "| INC-2027-0001 | 1 | Add a pool size alert | alice |" in text
    bad = await _run(served, "kpis", "weekly-review", "--week", "52")
    assert bad.exit_code == 1
    assert "query.week" in bad.output
