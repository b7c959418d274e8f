"""The bundled runbooks: they load, the rule packs and default rules link them both ways,
their PromQL parses and reads only metrics something ships, and docs/runbooks/ is their
current Markdown."""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from aiohttp import web
from prometheus_client import CollectorRegistry

from tradewarden.clock import ManualClock
from tradewarden.guard.breaker._metrics import BreakerMetrics
from tradewarden.guard.metrics import TradingMetrics
from tradewarden.guard.rpc._metrics import RpcMetrics
from tradewarden.probes._metrics import ProbeMetrics
from tradewarden.promql import Engine, metric_names, parse
from tradewarden.rules._defaults import default_rules
from tradewarden.rules.packs import RUNBOOK_PREFIX, pack_files
from tradewarden.runbooks import (
    ConnectionConfig,
    HttpStep,
    ProbeStep,
    PromqlStep,
    RedisStep,
    Runbook,
    RunbookCatalog,
    RunbookRunner,
    RunbooksConfig,
    SqlStep,
    bundled_files,
    load_runbooks,
)
from tradewarden.runbooks._markdown import export_markdown
from tradewarden.runbooks._templates import render
from tradewarden.series import Labels
from tradewarden.series._events import METRIC_NAMES
from tradewarden.series._store import SeriesStore

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "runbooks"
CONNECTIONS = {SqlStep: "app-db", RedisStep: "app-redis"}


def _catalog() -> RunbookCatalog:
    return load_runbooks(RunbooksConfig(), ROOT)


CATALOG = _catalog()
RUNBOOKS = CATALOG.all()


def _pack_rules() -> list[dict[str, Any]]:
    rules = []
    for path in pack_files():
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]:
            rules += [rule for rule in group["rules"] if "alert" in rule]
    return rules


def _default_rules() -> list[dict[str, Any]]:
    from tradewarden.config._file import parse_config_text

    config = parse_config_text(
        "monitors:\n"
        "  - {name: api, kind: http, url: 'http://127.0.0.1:9/health'}\n"
        "  - {name: backup, kind: heartbeat, period_s: 3600, grace_s: 300}\n"
    )
    rules: list[dict[str, Any]] = default_rules(config.monitors)["rules"]
    return rules


PACK_RULES = _pack_rules()
DEFAULT_RULES = _default_rules()
ALERTNAMES = {rule["alert"] for rule in PACK_RULES + DEFAULT_RULES}


def _shipped_metrics() -> set[str]:
    """Every metric name a pack or default rule reads, or the guard or warden exports."""
    names: set[str] = set(METRIC_NAMES)
    for rule in PACK_RULES + DEFAULT_RULES:
        read = metric_names(str(rule["expr"]))
        assert read is not None, rule["alert"]
        names |= read
    registry = CollectorRegistry()
    TradingMetrics(registry)
    RpcMetrics(registry)
    BreakerMetrics(registry)
    ProbeMetrics(registry)
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count")}
    for family in registry.collect():
        names |= {family.name + s for s in suffixes.get(family.type, ("",))}
    return names


SHIPPED_METRICS = _shipped_metrics()


def _ids(runbook: Runbook) -> str:
    return runbook.id


def test_every_bundled_file_loads_with_its_id_as_its_name() -> None:
    files = bundled_files()
    assert len(files) >= 20
    assert sorted(path.stem for path in files) == [r.id for r in RUNBOOKS]
    assert all(r.source == f"bundled:{r.id}.yml" for r in RUNBOOKS)


def test_the_issues_scenarios_are_covered() -> None:
    wanted = {
        "high-queue-backlog",
        "database-connection-pool-exhausted",
        "redis-connection-issues",
        "rpc-latency-failures",
        "worker-crash-loop",
        "job-not-executing",
        "circuit-breaker-open",
        "high-memory",
        "transaction-failures",
        "exchange-api-outage",
        "database-corruption-suspicion",
        "financial-loss-detected",
        "kill-switch-activated",
        "monitor-down",
        "heartbeat-missed",
    }
    assert wanted <= {r.id for r in RUNBOOKS}
    text = " ".join(CATALOG.get("transaction-failures").diagnosis)
    for cause in (
        "blockhash_not_found",
        "simulation_failed",
        "insufficient_funds",
        "slippage_exceeded",
        "fee_too_low",
        "account_in_use",
    ):
        assert cause in text, cause


def test_financial_loss_proposes_the_kill_switch_as_a_button() -> None:
    actions = {a.action: a for a in CATALOG.get("financial-loss-detected").actions}
    assert "kill_switch.halt" in actions
    assert actions["kill_switch.halt"].automatic is False
    # No bundled runbook runs anything unattended, whatever the config allows.
    assert all(not a.automatic for r in RUNBOOKS for a in r.actions)


@pytest.mark.parametrize("rule", PACK_RULES, ids=lambda rule: rule["alert"])
def test_every_pack_alert_names_its_runbook_and_the_runbook_names_the_alert(
    rule: dict[str, Any],
) -> None:
    annotations = rule["annotations"]
    runbook = CATALOG.get(annotations["runbook"])  # NotFoundError when it does not exist
    assert rule["alert"] in runbook.applies_to.alertnames
    labels = {"alertname": rule["alert"]}
    assert CATALOG.for_alert(labels, {}) is runbook
    assert CATALOG.for_alert(labels, annotations) is runbook


@pytest.mark.parametrize("rule", DEFAULT_RULES, ids=lambda rule: rule["alert"])
def test_the_default_rules_find_their_runbook_by_name(rule: dict[str, Any]) -> None:
    runbook = CATALOG.for_alert({"alertname": rule["alert"], "monitor": "api"}, {})
    assert runbook is not None
    assert runbook.id == re.sub(r"(?<!^)(?=[A-Z])", "-", rule["alert"]).lower()


@pytest.mark.parametrize("runbook", RUNBOOKS, ids=_ids)
def test_every_alertname_a_runbook_names_is_a_shipped_alert(runbook: Runbook) -> None:
    assert set(runbook.applies_to.alertnames) <= ALERTNAMES


def _rendered(query: str) -> str:
    labels = dict.fromkeys(re.findall(r"labels\.(\w+)", query), "sample")
    annotations = dict.fromkeys(re.findall(r"annotations\.(\w+)", query), "sample")
    return render(query, labels, annotations)


@pytest.mark.parametrize("runbook", RUNBOOKS, ids=_ids)
def test_every_promql_step_parses_and_reads_shipped_metrics(runbook: Runbook) -> None:
    for step in runbook.automated:
        if not isinstance(step, PromqlStep):
            continue
        query = _rendered(step.query)
        parse(query)
        read = metric_names(query)
        assert read is not None, f"{step.id}: a selector without a metric name"
        unknown = read - SHIPPED_METRICS
        assert not unknown, f"{runbook.id} step {step.id} reads {sorted(unknown)}"


@pytest.mark.parametrize("runbook", RUNBOOKS, ids=_ids)
def test_steps_use_the_conventional_connections(runbook: Runbook) -> None:
    for step in runbook.automated:
        for kind, name in CONNECTIONS.items():
            if isinstance(step, kind):
                assert step.connection == name, f"{runbook.id} step {step.id}"


@pytest.mark.parametrize("runbook", RUNBOOKS, ids=_ids)
def test_references_to_other_runbooks_exist(runbook: Runbook) -> None:
    prose = " ".join(runbook.symptoms + runbook.diagnosis + runbook.resolution)
    prose += " ".join(runbook.escalation)
    ids = {r.id for r in RUNBOOKS}
    for named in re.findall(r"(?:see|See|follow|runbook) `([a-z0-9-]+)`", prose):
        assert named in ids, f"{runbook.id} refers to {named}"


def test_a_templated_redis_key_renders_with_the_alerts_label() -> None:
    step = next(s for s in CATALOG.get("high-queue-backlog").automated if s.id == "bullmq-wait")
    assert isinstance(step, RedisStep)
    assert render(step.command[1], {"queue": "campaign-executor"}, {}) == (
        "bull:campaign-executor:wait"
    )


def test_docs_runbooks_is_the_current_export(tmp_path: Path) -> None:
    written = export_markdown(CATALOG, pack_files(), tmp_path)
    expected = {path.name: path.read_text(encoding="utf-8") for path in written}
    actual = {path.name: path.read_text(encoding="utf-8") for path in DOCS.glob("*.md")}
    assert sorted(actual) == sorted(expected), (
        "run: tradewarden runbook export --markdown docs/runbooks"
    )
    stale = [name for name in expected if actual[name] != expected[name]]
    assert not stale, f"stale {stale}: run tradewarden runbook export --markdown docs/runbooks"


@pytest.mark.parametrize("rule", PACK_RULES + DEFAULT_RULES, ids=lambda rule: rule["alert"])
def test_every_runbook_url_points_at_a_page_and_an_anchor(rule: dict[str, Any]) -> None:
    url = rule["annotations"]["runbook_url"]
    assert url.startswith(RUNBOOK_PREFIX)
    page, _, anchor = url.removeprefix(RUNBOOK_PREFIX).partition("#")
    text = (DOCS / page).read_text(encoding="utf-8")
    assert f'<a id="{anchor}"></a>' in text
    heading = next(line for line in text.splitlines() if line.lower() == f"## {anchor}")
    assert heading == f"## {rule['alert']}"


PG_ENV = "TW_H5B_BUNDLED_PG_URL"
REDIS_ENV = "TW_H5B_BUNDLED_REDIS_URL"
NOW_S = 1_700_000_000.0


@pytest.fixture
async def bot() -> AsyncIterator[str]:
    """A bot's /health on loopback (the http steps read ``http://{instance}/health``)."""

    async def health(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    application = web.Application()
    application.router.add_get("/health", health)
    runner = web.AppRunner(application)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


def _engine() -> Engine:
    store = SeriesStore()
    t_ms = int(NOW_S * 1000) - 5_000
    for state, jobs in (("waiting", 1500.0), ("active", 4.0), ("failed", 30.0)):
        labels = Labels.of(__name__="queue_jobs", monitor="jobs", queue="orders", state=state)
        store.append(labels, t_ms, jobs)
    return Engine(store)


@pytest.mark.redis
@pytest.mark.parametrize("runbook", RUNBOOKS, ids=_ids)
async def test_every_step_runs_read_only_against_real_targets(
    runbook: Runbook, bot: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every bundled step, with the alert's labels, against the real PostgreSQL and Redis,
    a local /health and a series store: it runs (ok), or a probe without a scheduler is
    skipped. A query PostgreSQL or Redis refuses, or a bad template, would show here."""
    pg = os.environ.get("TW_TEST_DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/postgres"
    monkeypatch.setenv(PG_ENV, pg)
    monkeypatch.setenv(REDIS_ENV, "redis://127.0.0.1:6379/0")
    config = RunbooksConfig(
        connections=(
            ConnectionConfig(name="app-db", kind="postgres", url_env=PG_ENV),
            ConnectionConfig(name="app-redis", kind="redis", url_env=REDIS_ENV),
        )
    )
    labels = {
        "alertname": runbook.applies_to.alertnames[0] if runbook.applies_to.alertnames else "X",
        "instance": bot,
        "job": "bot",
        "monitor": "jobs",
        "queue": "tw-h5b-no-such-queue",
        "name": "tw-h5b-no-such-breaker",
        "provider": "helius",
        "wallet": "hot",
    }
    async with httpx.AsyncClient() as http:
        runner = RunbookRunner(
            config,
            http=http,
            engine=_engine(),
            clock=ManualClock(NOW_S),
            targets=[bot],  # the bot is a scrape target: its instance label may be read
        )
        results = await runner.run(runbook, labels, {})
    assert [r.step_id for r in results] == [s.id for s in runbook.automated]
    for step, result in zip(runbook.automated, results, strict=True):
        if isinstance(step, HttpStep) and "labels.instance" not in step.url:
            continue  # a fixed address (the warden's own /health): nothing listens here
        wanted = "skipped" if isinstance(step, ProbeStep) else "ok"
        assert result.status == wanted, f"{runbook.id} step {step.id}: {result.error}"
        if isinstance(step, HttpStep):
            assert bot in str(result.output)
