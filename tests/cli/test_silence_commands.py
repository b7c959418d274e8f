"""`tradewarden silence add|list|expire` against a warden served over real HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from typer.testing import Result

from support.cli import cli_against
from support.warden import serve_runtime
from tradewarden.auth import PasswordHasher, Role
from tradewarden.clock import SystemClock
from tradewarden.config import ServiceConfig, Settings
from tradewarden.runtime import SYSTEM, Runtime


@pytest.fixture
async def served(
    settings: Settings, fast_hasher: PasswordHasher
) -> AsyncIterator[tuple[str, str, Runtime]]:
    """Serve the app on a loopback port from this test's loop; yield its URL and a key."""
    runtime = Runtime(settings, ServiceConfig(), clock=SystemClock(), hasher=fast_hasher)
    await runtime.start(bootstrap_admin=False)
    key = await runtime.auth.create_api_key("ops", Role.OPERATOR, actor=SYSTEM)
    async with serve_runtime(runtime, access_log=False) as url:  # closes the runtime
        yield url, key.key, runtime


async def _silence(served: tuple[str, str, Runtime], *args: str) -> Result:
    url, key, _ = served
    return await cli_against(url, key, "silence", *args)


async def test_add_list_expire(served: tuple[str, str, Runtime]) -> None:
    added = await _silence(
        served,
        "add",
        'bot="alpha"',
        "severity=~warning|info",
        "--comment",
        "deploy",
        "--duration",
        "2h",
    )
    assert added.exit_code == 0, added.output
    silence_id = added.output.strip().splitlines()[-1]
    runtime = served[2]
    assert runtime.alerting is not None
    (silence,) = runtime.alerting.silences.all()
    assert silence.id == silence_id
    assert [str(m) for m in silence.matchers] == ['bot="alpha"', 'severity=~"warning|info"']
    assert silence.created_by == "api_key:ops"
    listed = await _silence(served, "list")
    assert listed.exit_code == 0, listed.output
    assert silence_id[:8] in listed.output
    assert "active" in listed.output
    expired = await _silence(served, "expire", silence_id, "--reason", "done")
    assert expired.exit_code == 0, expired.output
    assert silence_id[:8] not in (await _silence(served, "list")).output
    history = await _silence(served, "list", "--expired")
    assert "expired" in history.output


async def test_bad_input_is_one_line(served: tuple[str, str, Runtime]) -> None:
    bad = await _silence(served, "add", "=x", "--comment", "c")
    assert bad.exit_code != 0
    assert "bad matcher format" in bad.output
    empty = await _silence(served, "add", 'bot=~".*"', "--comment", "c")
    assert empty.exit_code != 0
    assert "must not match the empty string" in empty.output
    missing = await _silence(served, "expire", "nope")
    assert missing.exit_code != 0
    assert "404" in missing.output
