"""Default rules per monitor and heartbeat: generated from the specs, valid for promtool,
firing on the series the probe sink writes."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tradewarden.config._file import parse_config_text
from tradewarden.probes import MonitorSpec
from tradewarden.rules._defaults import DEFAULT_GROUP, default_rule_file, default_rules

PROMTOOL = "/usr/bin/promtool"

CONFIG = """
monitors:
  - name: api
    kind: http
    url: http://127.0.0.1:9/health
    interval_s: 10
    failure: {down_after: 3}
    labels: {team: "trading {{ desk }}", severity: low}
  - name: flaky
    kind: tcp
    host: 127.0.0.1
    port: 9
    failure: {rate: 0.5, window: 10, min_results: 4}
  - name: backup
    kind: heartbeat
    period_s: 3600
    grace_s: 300
"""


def _specs() -> tuple[MonitorSpec, ...]:
    return parse_config_text(CONFIG).monitors


def _promtool() -> str:
    if shutil.which(PROMTOOL) is None:
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(f"{PROMTOOL} is missing (install the Debian package prometheus)")
        pytest.skip(f"{PROMTOOL} is not installed")
    return PROMTOOL


def _run(*args: str) -> None:
    done = subprocess.run(
        [_promtool(), *args], capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_one_down_alert_per_monitor_and_a_missed_one_per_heartbeat() -> None:
    group = default_rules(_specs())
    assert group["name"] == DEFAULT_GROUP
    assert group["interval"] == "10s"
    alerts = [(rule["alert"], rule["labels"]["kind"]) for rule in group["rules"]]
    assert alerts == [
        ("MonitorDown", "http"),
        ("MonitorDown", "heartbeat"),
        ("HeartbeatMissed", "heartbeat"),
        ("MonitorDown", "tcp"),
    ]
    api = next(r for r in group["rules"] if 'monitor="api"' in r["expr"])
    assert api["expr"] == 'monitor_state{monitor="api",state="DOWN"} == 1'
    # A monitor's own labels are copied, except those the rule sets itself.
    assert api["labels"] == {
        "team": "trading {{`{{`}} desk }}",
        "kind": "http",
        "severity": "critical",
    }
    assert "3 failed checks in a row (checked every 10 s)" in api["annotations"]["description"]


def test_the_description_names_a_rate_policy() -> None:
    flaky = next(r for r in default_rules(_specs())["rules"] if 'monitor="flaky"' in r["expr"])
    assert "at least 50% of its last 10 checks failing" in flaky["annotations"]["description"]


def test_no_monitors_give_an_empty_group() -> None:
    assert default_rules([]) == {"name": DEFAULT_GROUP, "interval": "30s", "rules": []}


def test_the_rules_are_valid_and_fire_on_the_probe_series(tmp_path: Path) -> None:
    rule_file = tmp_path / "defaults.yml"
    rule_file.write_text(yaml.safe_dump(default_rule_file(_specs())), encoding="utf-8")
    _run("check", "rules", str(rule_file))

    def alert(rule: str, name: str, kind: str, description: str, **extra: str) -> dict[str, Any]:
        summary = (
            f"Heartbeat {name} missed" if rule == "HeartbeatMissed" else (f"Monitor {name} is DOWN")
        )
        return {
            "exp_labels": {"monitor": name, "kind": kind, "severity": "critical", **extra},
            "exp_annotations": {
                "summary": summary,
                "description": description,
                "runbook_url": f"docs/runbooks/monitors.md#{rule.lower()}",
            },
        }

    # Last ping at t=0; the deadline is 3600 + 300 s; at 70 minutes it is 4200 s ago.
    tests = {
        "rule_files": [str(rule_file)],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    {"series": 'monitor_state{monitor="api",state="DOWN"}', "values": "0x5 1x5"},
                    {"series": 'monitor_state{monitor="backup",state="DOWN"}', "values": "0x80"},
                    {
                        "series": 'heartbeat_last_seen_timestamp_seconds{monitor="backup"}',
                        "values": "0x80",
                    },
                ],
                "alert_rule_test": [
                    {"eval_time": "4m", "alertname": "MonitorDown", "exp_alerts": []},
                    {
                        "eval_time": "7m",
                        "alertname": "MonitorDown",
                        "exp_alerts": [
                            alert(
                                "MonitorDown",
                                "api",
                                "http",
                                "The http monitor api went DOWN after 3 failed checks in a "
                                "row (checked every 10 s).",
                                state="DOWN",
                                team="trading {{ desk }}",
                            )
                        ],
                    },
                    {"eval_time": "60m", "alertname": "HeartbeatMissed", "exp_alerts": []},
                    {
                        "eval_time": "70m",
                        "alertname": "HeartbeatMissed",
                        "exp_alerts": [
                            alert(
                                "HeartbeatMissed",
                                "backup",
                                "heartbeat",
                                "No ping for 1h 10m 0s (expected every 3600 s, "
                                "with 300 s of grace).",
                            )
                        ],
                    },
                ],
            }
        ],
    }
    test_file = tmp_path / "unit.yml"
    test_file.write_text(yaml.safe_dump(tests, sort_keys=False), encoding="utf-8")
    _run("test", "rules", str(test_file))
