"""Differential: the warden evaluates a rule file over series, writes the firing alerts it
finds (labels and expanded annotations) as a ``promtool test rules`` file, and the real
Prometheus rule engine (promtool 2.42) must find exactly those."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from conftest import in_ci
from tradewarden.clock import ManualClock
from tradewarden.promql import Engine
from tradewarden.rules import (
    AlertState,
    RuleManager,
    RuleManagerOptions,
    engine_query,
    parse_rule_text,
)
from tradewarden.series import Labels, ListStorage

PROMTOOL = "/usr/bin/promtool"
STEP_S = 60

RULES = r"""
groups:
  - name: diff
    rules:
      - alert: Down
        expr: up == 0
        for: 2m
        labels:
          severity: page
          where: '{{ $labels.job | toUpper }}-{{ reReplaceAll ":.*" "" $labels.instance }}'
        annotations:
          summary: '{{ $labels.instance }} of {{ .Labels.job }} down, value {{ $value }}'
          title: '{{ "the instance is down" | title }}'
      - alert: Big
        expr: queue_depth > 100
        annotations:
          raw: '{{ $value }}'
          si: '{{ $value | humanize }}'
          bin: '{{ humanize1024 $value }}'
          fixed: '{{ printf "%.2f" $value }} / {{ printf "%d items" 7 }} / {{ printf "%v" $value }}'
          pct: '{{ humanizePercentage 0.0456 }}'
          dur: '{{ humanizeDuration 93784.5 }} {{ humanizeDuration 0.0123 }}'
          ts: '{{ humanizeTimestamp 1435065584.128 }}'
          branch: >-
            {{ if gt $value 1000000.0 }}huge{{ else if gt $value 1000.0 }}large{{ else }}ok{{ end }}
          labels: '{{ range $k, $v := $labels }}{{ $k }}={{ $v }};{{ end }}'
          query: '{{ with query "sum(queue_depth)" }}{{ . | first | value | humanize }}{{ end }}'
          count: '{{ len (query "queue_depth") }} {{ match "^q" $labels.queue }}'
          broken: '{{ if gt $value 10 }}big{{ end }}'
          small: '{{ 0.000012345 }} {{ 123456.0 }} {{ 1e21 }}'
          misc: >-
            {{ "api-1.example.com:8080" | stripPort }} {{ "api-1.example.com:8080" | stripDomain }}
            {{ graphLink "rate(x[5m])" }} {{ printf "%.3f" (parseDuration "1h2m10ms") }}
            {{ 1435065584.128 | toTime }} {{ $labels.queue | title }}
            {{ define "q" }}<{{ . }}>{{ end }}{{ template "q" $labels.queue }}
            {{ slice "abcdef" 2 4 }}
      - alert: Flapping
        expr: flap == 1
        for: 1m
        keep_firing_for: 2m
  - name: records
    rules:
      - record: job:up:sum
        expr: sum by (job) (up)
      - record: queue:depth:ratio
        expr: queue_depth / on() group_left sum(queue_depth)
        labels:
          source: warden
"""
# The warden writes no ALERTS at its first evaluation (before restoring for state; promtool
# restores nothing), so the comparison starts at the second.
RECORDS = ("job:up:sum", "queue:depth:ratio", "ALERTS", "ALERTS_FOR_STATE")

SERIES = {
    'up{job="api", instance="api-1:8080"}': [1, 0, 0, 0, 0, 0],
    'up{job="api", instance="api-2:8080"}': [0, 0, 0, 0, 0, 0],
    'up{job="worker", instance="w-1:9000"}': [0, 0, 1, 1, 1, 1],
    'queue_depth{queue="orders"}': [5, 50, 500, 5000, 1234567, 2500000],
    'queue_depth{queue="signals"}': [101, 101.5, 0.25, 99999, 0.5, 123.456],
    'flap{bot="alpha"}': [1, 1, 1, 0, 0, 0, 1, 0],
}


def _labels(series: str) -> Labels:
    name, _, rest = series.partition("{")
    pairs = [
        (k.strip(), v.strip().strip('"')) for k, v in (p.split("=") for p in rest[:-1].split(","))
    ]
    return Labels.from_pairs([*pairs, ("__name__", name)])


async def _warden(eval_s: int) -> tuple[dict[str, list[dict[str, Any]]], list[dict[str, Any]]]:
    storage = ListStorage()
    for series, values in SERIES.items():
        for i, value in enumerate(values):
            storage.append(_labels(series), i * STEP_S * 1000, float(value))
    clock = ManualClock(0.0)
    manager = RuleManager(
        query=engine_query(Engine(storage)),
        storage=storage,
        appender=storage,
        clock=clock,
        options=RuleManagerOptions(evaluation_interval_ms=STEP_S * 1000),
    )
    manager.apply(parse_rule_text(RULES, "diff.yml"))
    await manager.start()
    while clock.now() < eval_s:
        clock.advance(STEP_S)
        await manager.evaluate_now()
    await manager.stop()
    engine = Engine(storage)
    records = []
    for name in RECORDS:
        result = engine.instant(name, eval_s * 1000).value
        assert isinstance(result, list)
        samples = [
            {"labels": str(sample.labels.set("__name__", name)), "value": sample.v}
            for sample in result
        ]
        records.append({"expr": name, "eval_time": f"{eval_s}s", "exp_samples": samples})
    out: dict[str, list[dict[str, Any]]] = {"Down": [], "Big": [], "Flapping": []}
    for alert, _rule, _group in manager.alerts():
        if alert.state is AlertState.FIRING:
            labels = alert.labels.without(["alertname"]).to_dict()
            entry = {"exp_labels": labels, "exp_annotations": dict(alert.annotations)}
            out[alert.name].append(entry)
    return out, records


@pytest.fixture
def promtool() -> str:
    if shutil.which(PROMTOOL) is None:
        if in_ci():
            pytest.fail("promtool is missing (Debian package prometheus)")
        pytest.skip("promtool is not installed")
    return PROMTOOL


@pytest.mark.parametrize("eval_minutes", [1, 2, 3, 4, 5, 6, 7])
async def test_promtool_finds_the_same_firing_alerts_and_records(
    eval_minutes: int, tmp_path: Path, promtool: str
) -> None:
    (tmp_path / "diff.yml").write_text(RULES)
    eval_s = eval_minutes * 60
    found, records = await _warden(eval_s)
    assert any(found.values())
    assert all(r["exp_samples"] for r in records[:2])
    tests = [
        {"eval_time": f"{eval_minutes}m", "alertname": name, "exp_alerts": alerts}
        for name, alerts in found.items()
    ]
    unit = {
        "rule_files": ["diff.yml"],
        "evaluation_interval": f"{STEP_S}s",
        "tests": [
            {
                "interval": f"{STEP_S}s",
                "input_series": [
                    {"series": s, "values": " ".join(json.dumps(v) for v in values)}
                    for s, values in SERIES.items()
                ],
                "alert_rule_test": tests,
                "promql_expr_test": records,
            }
        ],
    }
    test_file = tmp_path / "diff_test.yml"
    test_file.write_text(json.dumps(unit, indent=1))  # JSON is YAML, and unambiguous
    done = await asyncio.to_thread(
        subprocess.run,
        [promtool, "test", "rules", str(test_file)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout + done.stderr
