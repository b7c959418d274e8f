"""`tradewarden incident ...` against a warden served over real HTTP."""

from __future__ import annotations

import json
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
from tradewarden.store import AuditRepository

pytestmark = [pytest.mark.slow]


@pytest.fixture
async def served(
    settings: Settings, fast_hasher: PasswordHasher
) -> AsyncIterator[tuple[str, str, Runtime]]:
    """Serve a warden; yield its URL, an operator's key and the runtime."""
    runtime = Runtime(
        settings, ServiceConfig(), clock=ManualClock(start=1_800_000_000.0), hasher=fast_hasher
    )
    await runtime.start(bootstrap_admin=False)
    key = await runtime.auth.create_api_key("ops", Role.OPERATOR, actor=SYSTEM)
    async with serve_runtime(runtime, access_log=False) as url:
        yield url, key.key, runtime  # closed by serve_runtime


async def _run(served: tuple[str, str, Runtime], *args: str) -> Result:
    url, key, _runtime = served
    return await cli_against(url, key, *args)


async def test_an_incident_from_open_to_report(
    served: tuple[str, str, Runtime], tmp_path: Path
) -> None:
    opened = await _run(
        served,
        "incident",
        "open",
        "--title",
        "Fills stopped",
        "--severity",
        "P1",
        "--bot",
        "mm-1",
        "--users",
        "3",
        "--money-at-risk",
        "500",
    )
    assert opened.exit_code == 0, opened.output
    assert opened.output.strip().endswith("INC-2027-0001")
    incident = "INC-2027-0001"
    for args, expected in [
        (("ack", incident, "--reason", "mine"), f"acknowledged {incident}"),
        (("ack", incident), "was acknowledged already by api_key:ops"),
        (("note", incident, "exchange websocket dropped"), f"noted on {incident}"),
        (("status", incident, "identified", "--reason", "ws"), "P1 identified: Fills stopped"),
        (("resolve", incident, "--resolution", "reconnected"), "P1 resolved: Fills stopped"),
    ]:
        result = await _run(served, "incident", *args)
        assert result.exit_code == 0, result.output
        assert expected in result.output

    listed = await _run(served, "incident", "list", "--status", "resolved", "--json")
    assert listed.exit_code == 0, listed.output
    page = json.loads(listed.output[listed.output.index("{") :])
    assert [(i["id"], i["acknowledged_by"]) for i in page["items"]] == [(incident, "api_key:ops")]
    none_open = await _run(served, "incident", "list", "--status", "investigating")
    assert "0 of 0 incident(s)" in none_open.output

    shown = await _run(served, "incident", "show", incident)
    assert shown.exit_code == 0, shown.output
    assert "note            api_key:ops: exchange websocket dropped" in shown.output

    target = tmp_path / "report.md"
    written = await _run(served, "incident", "report", incident, "--output", str(target))
    assert written.exit_code == 0, written.output
    text = target.read_text(encoding="utf-8")
    assert text.startswith("## Incident Report\n")
    assert "**Status:** Resolved" in text
    assert "exchange websocket dropped" in text
    assert "### Resolution\nreconnected" in text
    printed = await _run(served, "incident", "report", incident)
    assert "**Incident ID:** INC-2027-0001" in printed.output

    runtime = served[2]
    async with runtime.database.read_session() as session:
        actions = [r.action for r in await AuditRepository(session).list(limit=50)]
    assert actions.count("incident.ack") == 2
    assert "incident.resolve" in actions


async def test_errors_name_the_problem(served: tuple[str, str, Runtime]) -> None:
    missing = await _run(served, "incident", "show", "INC-2027-0404")
    assert missing.exit_code == 1
    assert "404" in missing.output
    assert "INC-2027-0404" in missing.output
    bad = await _run(served, "incident", "status", "INC-2027-0404", "closed")
    assert bad.exit_code == 2  # typer refuses the status before any request
    opened = await _run(served, "incident", "open", "--title", "x", "--severity", "P3")
    assert opened.exit_code == 0, opened.output
    same = await _run(served, "incident", "status", "INC-2027-0001", "investigating")
    assert same.exit_code == 1
    assert "409" in same.output
