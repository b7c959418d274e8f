"""The shipped rule packs: valid for promtool, complete, and documented alike."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import promql_parser
import pytest
import yaml

from tradewarden.rules.packs import pack_files, pack_names, runbook_url, seed_files

PROMTOOL = "/usr/bin/promtool"

# Every area the issue names, and the alert of each seed rule that covers it.
EXPECTED_ALERTS = {
    "api": {"HighErrorRate", "HighResponseLatency"},
    "queues": {"HighQueueBacklog"},
    "workers": {"WorkerDown", "ApplicationDown"},
    "system": {
        "HighMemoryUsage",
        "ContainerMemoryNearLimit",
        "HostLowAvailableMemory",
        "HighCPULoad",
    },
    "rpc": {"RPCProviderDown"},
    "breakers": {"CircuitBreakerOpen"},
    "orders": {"HighOrderFailureRate", "OrderProcessingStalled"},
    "signals": {"SignalProcessingErrors", "NoSignalsReceived"},
    "exchange": {"ExchangeAPIDown", "ExchangeAPIErrors"},
    "balances": {"LowExchangeBalance", "LowWalletBalance"},
    "database": {"DatabaseUnavailable", "DatabaseConnectionErrors"},
    "redis": {"RedisConnectionIssues"},
    "trading": {"KillSwitchActivated"},
}


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _load(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return document


def _rules(path: Path) -> list[dict[str, Any]]:
    return [rule for group in _load(path)["groups"] for rule in group["rules"]]


def _all_files() -> list[Path]:
    return [*pack_files(), *seed_files()]


def test_every_area_has_its_pack_with_the_seed_alerts() -> None:
    assert set(pack_names()) == set(EXPECTED_ALERTS)
    for path in pack_files():
        alerts = {rule["alert"] for rule in _rules(path) if "alert" in rule}
        missing = EXPECTED_ALERTS[path.stem] - alerts
        assert not missing, f"{path.name} lacks {sorted(missing)}"


def test_the_seed_files_keep_every_seed_rule() -> None:
    counts = {path.stem: len(_rules(path)) for path in seed_files()}
    # seeds 002 and 004 write thresholds, not rules: they have no file.
    assert counts == {"seed_000": 5, "seed_001": 7, "seed_003": 9}


def test_alert_names_are_unique_across_the_packs() -> None:
    names = [rule["alert"] for path in pack_files() for rule in _rules(path)]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)


@pytest.mark.parametrize("path", pack_files(), ids=lambda p: p.name)
def test_every_pack_alert_is_documented(path: Path) -> None:
    for rule in _rules(path):
        name = rule["alert"]
        annotations = rule["annotations"]
        assert set(annotations) == {"summary", "description", "runbook", "runbook_url"}, name
        assert annotations["runbook_url"] == runbook_url(path.stem, name)
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}, name
        text = annotations["summary"] + annotations["description"]
        assert re.search(r"\$value|\$labels\.", text), f"{name}: nothing from the series"


@pytest.mark.parametrize("path", _all_files(), ids=lambda p: p.name)
def test_every_expression_parses(path: Path) -> None:
    for rule in _rules(path):
        promql_parser.parse(rule["expr"])


@pytest.mark.parametrize("path", _all_files(), ids=lambda p: p.name)
def test_promtool_accepts_every_file(path: Path) -> None:
    if shutil.which(PROMTOOL) is None:
        if _in_ci():
            pytest.fail(f"{PROMTOOL} is missing (install the Debian package prometheus)")
        pytest.skip(f"{PROMTOOL} is not installed")
    done = subprocess.run(
        [PROMTOOL, "check", "rules", str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
