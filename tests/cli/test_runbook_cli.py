"""`tradewarden runbook list|show|run` against a warden served over real HTTP (a run reads
a bot's /health on loopback and is audited), and `runbook check|export` offline."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from aiohttp import web
from typer.testing import CliRunner, Result

from support.cli import cli_against
from support.warden import serve_runtime
from tradewarden.auth import PasswordHasher, Role
from tradewarden.cli import app
from tradewarden.clock import SystemClock
from tradewarden.config import ServiceConfig, Settings
from tradewarden.rules.packs import pack_files
from tradewarden.runbooks import RunbooksConfig, bundled_files, load_runbooks
from tradewarden.runbooks._markdown import export_markdown
from tradewarden.runtime import SYSTEM, Runtime

ROOT = Path(__file__).resolve().parents[2]

USER_RUNBOOK = """
id: bot-health
title: The bot's health
summary: Read the bot's health endpoint.
applies_to: {alertnames: [BotUnhealthy]}
symptoms: [The bot answers slowly.]
diagnosis: [Read its /health.]
resolution: [Restart it.]
automated:
  - id: health
    title: The bot's /health
    kind: http
    url: 'http://{{ labels.instance }}/health'
  - id: wallet
    title: Needs a wallet label
    kind: promql
    query: 'wallet_balance_sol{wallet="{{ labels.wallet }}"}'
"""


@dataclass
class Served:
    url: str
    viewer: str
    operator: str
    admin: str
    bot: str
    hits: list[str]


@pytest.fixture
async def bot() -> AsyncIterator[tuple[str, list[str]]]:
    hits: list[str] = []

    async def health(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.json_response({"status": "ok"})

    application = web.Application()
    application.router.add_get("/health", health)
    runner = web.AppRunner(application)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"127.0.0.1:{runner.addresses[0][1]}", hits
    finally:
        await runner.cleanup()


@pytest.fixture
async def served(
    settings: Settings, fast_hasher: PasswordHasher, tmp_path: Path, bot: tuple[str, list[str]]
) -> AsyncIterator[Served]:
    folder = tmp_path / "runbooks"
    folder.mkdir()
    (folder / "bot-health.yml").write_text(USER_RUNBOOK, encoding="utf-8")
    runbooks = RunbooksConfig(directories=(str(folder),), http_hosts=("127.0.0.1",))
    runtime = Runtime(
        settings, ServiceConfig(runbooks=runbooks), clock=SystemClock(), hasher=fast_hasher
    )
    await runtime.start(bootstrap_admin=False)
    keys = [
        (await runtime.auth.create_api_key(role.label, role, actor=SYSTEM)).key
        for role in (Role.VIEWER, Role.OPERATOR, Role.ADMIN)
    ]
    async with serve_runtime(runtime, access_log=False) as url:  # closes the runtime
        yield Served(url, *keys, bot=bot[0], hits=bot[1])


async def _cli(served: Served, key: str, *args: str) -> Result:
    return await cli_against(served.url, key, "runbook", *args)


async def test_list_and_show(served: Served) -> None:
    listed = await _cli(served, served.viewer, "list")
    assert listed.exit_code == 0, listed.output
    assert "high-queue-backlog" in listed.output
    assert "bot-health" in listed.output
    shown = await _cli(served, served.viewer, "show", "high-queue-backlog")
    assert shown.exit_code == 0, shown.output
    assert "\n# High queue backlog\n" in f"\n{shown.output}"
    assert "LLEN bull:{{ labels.queue }}:wait" in shown.output
    as_json = await _cli(served, served.viewer, "show", "bot-health", "--json")
    assert as_json.exit_code == 0, as_json.output
    assert '"source"' in as_json.output
    missing = await _cli(served, served.viewer, "show", "no-such-runbook")
    assert missing.exit_code == 1
    assert "404" in missing.output


async def test_run_prints_each_step_and_is_audited(served: Served) -> None:
    ran = await _cli(
        served,
        served.operator,
        "run",
        "bot-health",
        "--label",
        f"instance={served.bot}",
        "--label",
        "queue=orders",
        "--reason",
        "by hand",
    )
    assert ran.exit_code == 0, ran.output
    assert served.hits == ["/health"]
    lines = ran.output.splitlines()
    assert any("health" in line and " ok " in f" {line} " for line in lines), ran.output
    assert "label wallet missing" in ran.output
    async with httpx.AsyncClient(base_url=served.url) as http:
        response = await http.get(
            "/v1/admin/audit",
            params={"action": "runbook.run"},
            headers={"Authorization": f"Bearer {served.admin}"},
        )
    (row,) = response.json()
    assert row["reason"] == "by hand"
    assert row["actor"] == "api_key:operator"
    assert row["details"]["labels"] == {"instance": served.bot, "queue": "orders"}
    assert row["details"]["steps"] == {"health": "ok", "wallet": "skipped"}


async def test_a_viewer_cannot_run_and_bad_labels_are_one_line(served: Served) -> None:
    refused = await _cli(served, served.viewer, "run", "bot-health", "--reason", "x")
    assert refused.exit_code == 1
    assert "403" in refused.output
    bad = await _cli(served, served.operator, "run", "bot-health", "-l", "novalue", "--reason", "x")
    assert bad.exit_code == 1
    assert "--label 'novalue': expected name=value" in bad.output
    assert served.hits == []


def test_check_validates_bundled_and_configured_runbooks(tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(app, ["runbook", "check", "--config", str(_config(tmp_path, ""))])
    assert ok.exit_code == 0, ok.output
    count = len(bundled_files())
    assert f"runbooks ok: {count} ({count} bundled, 0 yours)" in ok.output

    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "bad.yml").write_text(
        USER_RUNBOOK.replace("kind: promql", "kind: shell"), encoding="utf-8"
    )
    bad = runner.invoke(app, ["runbook", "check", "--config", str(_config(tmp_path, "mine"))])
    assert bad.exit_code == 2, bad.output
    assert "bad.yml" in bad.output
    assert "runbook bot-health: step wallet" in bad.output
    assert "'shell' is not allowed" in bad.output


def test_export_writes_the_pages_docs_runbooks_holds(tmp_path: Path) -> None:
    target = tmp_path / "pages"
    done = CliRunner().invoke(
        app,
        ["runbook", "export", "--markdown", str(target), "--config", str(_config(tmp_path, ""))],
    )
    assert done.exit_code == 0, done.output
    catalog = load_runbooks(RunbooksConfig(), ROOT)
    expected = export_markdown(catalog, pack_files(), tmp_path / "expected")
    assert sorted(p.name for p in target.iterdir()) == sorted(p.name for p in expected)
    for page in expected:
        assert (target / page.name).read_text(encoding="utf-8") == page.read_text(encoding="utf-8")
    assert (target / "queues.md").read_text(encoding="utf-8").count('<a id="') == 3


def _config(tmp_path: Path, directory: str) -> Path:
    path = tmp_path / "tradewarden.yaml"
    body = f"runbooks:\n  directories: [{directory}]\n" if directory else "runbooks: {}\n"
    path.write_text(body, encoding="utf-8")
    return path
