"""``tradewarden export ...``: run as a user runs it, checked by the real promtool."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import promql_parser
import pytest
from ruamel.yaml import YAML
from typer.testing import CliRunner

from tradewarden.cli import app
from tradewarden.rules.packs import pack_files

runner = CliRunner()
PROMTOOL = "/usr/bin/promtool"

CONFIG = """
server:
  host: 0.0.0.0
  port: 8181
monitors:
  - name: api
    kind: http
    url: http://127.0.0.1:9/health
  - name: nightly-backup
    kind: heartbeat
    period_s: 86400
"""

SCRAPE_CONFIGS = """
scrape_configs:
  - job_name: bot
    scrape_interval: 10s
    static_configs:
      - targets: ["127.0.0.1:9100", "127.0.0.1:9101"]
        labels: {env: prod}
  - job_name: exporter
    scheme: https
    metrics_path: /probe/metrics
    params: {module: [http_2xx]}
    honor_labels: true
    sample_limit: 5000
    basic_auth:
      username: prom
      password_env: EXPORTER_PASSWORD
    static_configs:
      - targets: ["exporter.internal:9115"]
  - job_name: worker
    bearer_token_file: __TOKEN__
    static_configs:
      - targets: ["127.0.0.1:9200"]
"""

USER_RULES = """
groups:
  - name: my-bot
    rules:
      - alert: BotSilent
        expr: absent(up{job="bot"})
        for: 5m
"""


def _load(text: str) -> Any:
    return YAML(typ="safe").load(text)


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    if shutil.which(PROMTOOL) is None:
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(f"{PROMTOOL} is missing (install the Debian package prometheus)")
        pytest.skip(f"{PROMTOOL} is not installed")
    return subprocess.run(
        [PROMTOOL, *args], capture_output=True, text=True, check=False, timeout=60
    )


@pytest.fixture
def config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "tradewarden.yaml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


@pytest.fixture
def user_rules(tmp_path: Path) -> Path:
    path = tmp_path / "mine.yml"
    path.write_text(USER_RULES, encoding="utf-8")
    return path


def test_prometheus_rules_to_a_directory_pass_promtool(
    config_file: Path, user_rules: Path, tmp_path: Path
) -> None:
    out = tmp_path / "rules"
    result = runner.invoke(
        app,
        [
            "export",
            "prometheus-rules",
            "-c",
            str(config_file),
            "--out",
            str(out),
            "--rules",
            str(user_rules),
        ],
    )
    assert result.exit_code == 0, result.output
    written = sorted(str(p.relative_to(out)) for p in out.rglob("*.yml"))
    assert written == sorted(
        [*(f"packs/{p.name}" for p in pack_files()), "tradewarden-monitors.yml", "user/mine.yml"]
    )
    # The packs are copied as they are, comments included.
    assert (out / "packs/api.yml").read_text("utf-8") == next(
        p for p in pack_files() if p.name == "api.yml"
    ).read_text("utf-8")
    defaults = _load((out / "tradewarden-monitors.yml").read_text("utf-8"))
    alerts = [(r["alert"], r["labels"]["kind"]) for r in defaults["groups"][0]["rules"]]
    assert alerts == [
        ("MonitorDown", "http"),
        ("MonitorDown", "heartbeat"),
        ("HeartbeatMissed", "heartbeat"),
    ]
    checked = _promtool("check", "rules", *(str(p) for p in sorted(out.rglob("*.yml"))))
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_prometheus_rules_to_stdout_are_one_valid_file(
    config_file: Path, user_rules: Path, tmp_path: Path
) -> None:
    result = runner.invoke(
        app,
        [
            "export",
            "prometheus-rules",
            "-c",
            str(config_file),
            "--rules",
            str(user_rules),
            "--runbook-base",
            "https://runbooks.example/tw/",
        ],
    )
    assert result.exit_code == 0, result.output
    merged = _load(result.stdout)
    names = [group["name"] for group in merged["groups"]]
    assert "tradewarden-api" in names
    assert names[-2:] == ["tradewarden-monitors", "my-bot"]
    urls = {
        rule["annotations"]["runbook_url"]
        for group in merged["groups"]
        for rule in group["rules"]
        if "runbook_url" in rule.get("annotations", {})
    }
    assert "https://runbooks.example/tw/api.md#higherrorrate" in urls
    assert "https://runbooks.example/tw/monitors.md#monitordown" in urls
    assert all(url.startswith("https://runbooks.example/tw/") for url in urls)
    path = tmp_path / "merged.yml"
    path.write_text(result.stdout, encoding="utf-8")
    checked = _promtool("check", "rules", str(path))
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_a_bad_user_rule_file_is_named(config_file: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "groups:\n  - name: mine\n    rules:\n      - alert: Broken\n        expr: sum(\n",
        encoding="utf-8",
    )
    result = runner.invoke(
        app, ["export", "prometheus-rules", "-c", str(config_file), "--rules", str(bad)]
    )
    assert result.exit_code == 2
    assert str(bad) in result.stderr
    assert "mine" in result.stderr
    assert "Broken" in result.stderr


def test_the_config_files_rules_section_is_followed(
    config_file: Path, user_rules: Path, tmp_path: Path
) -> None:
    config_file.write_text(
        CONFIG + "rules:\n  files: ['*.yml']\n  packs: [orders, redis]\n  default_rules: false\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    result = runner.invoke(
        app, ["export", "prometheus-rules", "-c", str(config_file), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    written = sorted(str(p.relative_to(out)) for p in out.rglob("*.yml"))
    assert written == ["packs/orders.yml", "packs/redis.yml", "user/mine.yml"]


def test_a_group_name_clash_is_refused_on_stdout(config_file: Path, tmp_path: Path) -> None:
    clash = tmp_path / "clash.yml"
    clash.write_text("groups:\n  - name: tradewarden-api\n    rules: []\n", encoding="utf-8")
    result = runner.invoke(
        app, ["export", "prometheus-rules", "-c", str(config_file), "--rules", str(clash)]
    )
    assert result.exit_code == 2
    assert "rule group 'tradewarden-api' is in both packs/api.yml and user/clash.yml" in (
        result.stderr
    )


def test_prometheus_config_scrapes_the_same_targets_and_passes_promtool(
    config_file: Path, tmp_path: Path
) -> None:
    token = tmp_path / "worker_token"  # promtool checks that a credentials file exists
    token.write_text("secret", encoding="utf-8")
    scrape_configs = SCRAPE_CONFIGS.replace("__TOKEN__", str(token))
    rules = "rules:\n  evaluation_interval: 30s\n  external_labels: {site: lon}\n"
    config_file.write_text(CONFIG + scrape_configs + rules, encoding="utf-8")
    rules_dir = tmp_path / "rules"
    exported = runner.invoke(
        app, ["export", "prometheus-rules", "-c", str(config_file), "--out", str(rules_dir)]
    )
    assert exported.exit_code == 0, exported.output
    secrets = tmp_path / "secrets"
    result = runner.invoke(
        app,
        [
            "export",
            "prometheus-config",
            "-c",
            str(config_file),
            "--out",
            str(tmp_path),
            "--rules-dir",
            str(rules_dir),
            "--secrets-dir",
            str(secrets),
        ],
    )
    assert result.exit_code == 0, result.output
    text = (tmp_path / "prometheus.yml").read_text("utf-8")
    assert f"#   {secrets}/exporter_password: the value of $EXPORTER_PASSWORD" in text
    config = _load(text)
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert list(jobs) == ["tradewarden", "bot", "exporter", "worker"]
    assert jobs["tradewarden"]["static_configs"] == [{"targets": ["127.0.0.1:8181"]}]
    assert jobs["bot"]["scrape_interval"] == "10s"
    assert jobs["bot"]["static_configs"] == [
        {"targets": ["127.0.0.1:9100", "127.0.0.1:9101"], "labels": {"env": "prod"}}
    ]
    exporter = jobs["exporter"]
    assert exporter["scheme"] == "https"
    assert exporter["params"] == {"module": ["http_2xx"]}
    assert exporter["honor_labels"] is True
    assert exporter["sample_limit"] == 5000
    assert exporter["basic_auth"] == {
        "username": "prom",
        "password_file": f"{secrets}/exporter_password",
    }
    assert jobs["worker"]["authorization"] == {
        "type": "Bearer",
        "credentials_file": str(token),
    }
    assert config["global"] == {
        "scrape_interval": "15s",
        "evaluation_interval": "30s",
        "external_labels": {"site": "lon"},
    }
    assert config["rule_files"] == [
        f"{rules_dir}/*.yml",
        f"{rules_dir}/packs/*.yml",
        f"{rules_dir}/user/*.yml",
    ]
    assert config["alerting"]["alertmanagers"][0]["static_configs"] == [
        {"targets": ["127.0.0.1:9093"]}
    ]
    assert not re.search(r"^\s*(password|bearer_token|credentials):", text, re.MULTILINE)
    checked = _promtool("check", "config", str(tmp_path / "prometheus.yml"))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # promtool checked the rule files the globs found: the packs and the monitors' defaults.
    assert f"SUCCESS: {len(pack_files()) + 1} rule files found" in checked.stdout


def test_prometheus_config_references_the_warden_key_as_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "tw.yaml"
    path.write_text("server:\n  metrics_require_auth: true\n", encoding="utf-8")
    result = runner.invoke(app, ["export", "prometheus-config", "-c", str(path)])
    assert result.exit_code == 0, result.output
    warden = _load(result.stdout)["scrape_configs"][0]
    assert warden["static_configs"] == [{"targets": ["127.0.0.1:8080"]}]
    assert warden["authorization"] == {
        "type": "Bearer",
        "credentials_file": "/etc/prometheus/secrets/tradewarden_api_key",
    }


def _expanded(expr: str) -> str:
    # What Grafana does before sending a query.
    return expr.replace("$__rate_interval", "1m").replace("$job", ".*")


def test_grafana_dashboard_is_importable_json(tmp_path: Path) -> None:
    result = runner.invoke(app, ["export", "grafana-dashboards", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    board = json.loads((tmp_path / "tradewarden-overview.json").read_text("utf-8"))
    assert {"uid", "title", "panels", "templating", "schemaVersion", "time"} <= set(board)
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    rows = [p["title"] for p in board["panels"] if p["type"] == "row"]
    assert rows == [
        "API health",
        "Queue health",
        "Worker health",
        "Database",
        "Redis",
        "RPC providers",
        "Trading",
        "Monitors",
    ]
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    trading = [p["title"] for p in board["panels"] if p["type"] != "row"]
    assert {"Orders by status", "Order failures", "Balances", "Trading state"} <= set(trading)
    cells: set[tuple[int, int]] = set()
    for panel in board["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] >= 0, panel["title"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in cells, f"{panel['title']} overlaps another panel"
                cells.add((x, y))
        if panel["type"] == "row":
            continue
        assert panel["type"] in {"timeseries", "stat"}
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        refs = [t["refId"] for t in panel["targets"]]
        assert refs, panel["title"]
        assert len(refs) == len(set(refs)), panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}"
            promql_parser.parse(_expanded(target["expr"]))


def test_grafana_dashboard_to_stdout() -> None:
    result = runner.invoke(app, ["export", "grafana-dashboards", "--title", "Desk"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["title"] == "Desk"
