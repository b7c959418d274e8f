"""`tradewarden monitor ...` against a warden served over real HTTP that runs no monitors."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from support.warden import serve_runtime
from tradewarden.auth import PasswordHasher, Role
from tradewarden.cli import app
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
    argv = ["monitor", *args, "--url", url, "--api-key", key]
    # The CLI is synchronous: it runs in a thread while this loop serves its requests.
    return await asyncio.to_thread(CliRunner().invoke, app, argv)


async def test_a_503_fails_every_monitor_command(served: tuple[str, str], tmp_path: Path) -> None:
    spec = tmp_path / "nightly.yaml"
    spec.write_text("name: nightly\nkind: heartbeat\nperiod_s: 3600\n", encoding="utf-8")
    for args in (("list",), ("add", "--file", str(spec)), ("delete", "nightly")):
        result = await _monitor(served, *args)
        assert result.exit_code == 1, (args, result.output)
        assert "503: monitors do not run in this process" in result.output, args
        assert "deleted" not in result.output
