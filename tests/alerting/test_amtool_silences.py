"""The real amtool (Alertmanager's CLI) adds, queries and expires silences on the warden."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from alerting._amtool import amtool_binary
from support.warden import serve_runtime
from tradewarden.auth import PasswordHasher, Role
from tradewarden.clock import SystemClock
from tradewarden.config import ServiceConfig, Settings
from tradewarden.runtime import SYSTEM, Runtime

pytestmark = pytest.mark.slow


@pytest.fixture
async def warden(
    settings: Settings, fast_hasher: PasswordHasher, tmp_path: Path
) -> AsyncIterator[tuple[list[str], Runtime]]:
    """Serve a warden; yield amtool's connection flags for it and the runtime."""
    runtime = Runtime(settings, ServiceConfig(), clock=SystemClock(), hasher=fast_hasher)
    await runtime.start(bootstrap_admin=False)
    key = await runtime.auth.create_api_key("amtool", Role.OPERATOR, actor=SYSTEM)
    http_config = tmp_path / "http.yml"
    http_config.write_text(f'{{"authorization": {{"credentials": "{key.key}"}}}}', "utf-8")
    async with serve_runtime(runtime, access_log=False) as url:
        yield [f"--alertmanager.url={url}/", f"--http.config.file={http_config}"], runtime


async def _amtool(flags: list[str], *args: str) -> str:
    done = await asyncio.to_thread(
        subprocess.run,
        [amtool_binary(), *args, *flags],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


async def test_amtool_silences(warden: tuple[list[str], Runtime]) -> None:
    flags, runtime = warden
    silence_id = (
        await _amtool(
            flags,
            "silence",
            "add",
            'bot="alpha"',
            "severity=~warning|info",
            "--comment=deploy",
            "--author=alice",
            "--duration=2h",
        )
    ).strip()
    assert runtime.alerting is not None
    (silence,) = runtime.alerting.silences.all()
    assert silence.id == silence_id
    assert [str(m) for m in silence.matchers] == ['bot="alpha"', 'severity=~"warning|info"']
    assert silence.created_by == "alice"
    assert silence_id in await _amtool(flags, "silence", "query", "-q")
    await _amtool(flags, "silence", "expire", silence_id)
    assert silence_id not in await _amtool(flags, "silence", "query", "-q")
    assert silence_id in await _amtool(flags, "silence", "query", "-q", "--expired")


async def test_amtool_alerts(warden: tuple[list[str], Runtime]) -> None:
    flags, _runtime = warden
    await _amtool(
        flags, "alert", "add", "alertname=FromAmtool", "bot=alpha", "--annotation=summary=s"
    )
    await _amtool(flags, "alert", "add", "alertname=Other", "bot=beta")
    shown = await _amtool(flags, "alert", "query", "bot=alpha", "-o", "json")
    assert "FromAmtool" in shown
    assert "Other" not in shown
    assert "disabled" in await _amtool(flags, "cluster", "show")
