"""`tradewarden monitor ...` against a warden served over real HTTP that runs no monitors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from typer.testing import Result

from support.cli import cli_against
from support.warden import serve_runtime
from tradewarden.auth import PasswordHasher, Role
from tradewarden.clock import ManualClock
from tradewarden.config import ServiceConfig, Settings
from tradewarden.runtime import SYSTEM, Runtime

pytestmark = pytest.mark.slow


@pytest.fixture
async def served(settings: Settings, fast_hasher: PasswordHasher) -> AsyncIterator[tuple[str, str]]:
    """Serve an app whose runtime runs no probes (every monitor route answers 503)."""
    runtime = Runtime(settings, ServiceConfig(), clock=ManualClock(), hasher=fast_hasher)
    await runtime.start(bootstrap_admin=False, run_probes=False)
    key = await runtime.auth.create_api_key("ops", Role.OPERATOR, actor=SYSTEM)
    async with serve_runtime(runtime) as url:
        yield url, key.key


async def _monitor(served: tuple[str, str], *args: str) -> Result:
    url, key = served
    return await cli_against(url, key, "monitor", *args)


async def test_a_503_fails_every_monitor_command(served: tuple[str, str], tmp_path: Path) -> None:
    spec = tmp_path / "nightly.yaml"
    spec.write_text("name: nightly\nkind: heartbeat\nperiod_s: 3600\n", encoding="utf-8")
    for args in (("list",), ("add", "--file", str(spec)), ("delete", "nightly")):
        result = await _monitor(served, *args)
        assert result.exit_code == 1, (args, result.output)
        assert "503: monitors do not run in this process" in result.output, args
        assert "deleted" not in result.output
