"""The evaluator's operators, vector matching, aggregations, modifiers and subqueries
against real Prometheus: ``promtool test rules`` (Debian ``prometheus``, 2.42) evaluates
the same queries on the same series, and prints what it got for each.

Prometheus 2.42 selects closed ranges ``[t - range, t]`` where the 3.x semantics we
implement are left-open; the samples here are on whole minutes and the query time is
10m30s, and no range or subquery step here puts a sample or a subquery step on a window's
start, so the two agree.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tradewarden.promql import Engine, QueryError, Vector
from tradewarden.promql._promqltest import parse_points, parse_series
from tradewarden.series import ListStorage

PROMTOOL = "/usr/bin/promtool"
EVAL_MS = 630_000  # 10m30s

SERIES = {
    'req_total{job="api",instance="a",code="200"}': "0+10x20",
    'req_total{job="api",instance="b",code="500"}': "0+3x20",
    'req_total{job="db",instance="c",code="200"}': "5+1x20",
    'up{job="api",instance="a"}': "1x20",
    'up{job="api",instance="b"}': "0x20",
    'up{job="db",instance="c"}': "1 1 1 0 0 0 1x14",
    'info{job="api",team="x"}': "1x20",
    'info{job="db",team="y"}': "1x20",
    'temp{room="r1"}': "20 21 19 25 22 18 30 17 16 15 14 13 12 11 10 9 8 7 6 5 4",
    'temp{room="r2"}': "-5 -3 -1 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17",
    'mixed{a="1"}': "NaN 1 Inf -Inf 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18",
}

QUERIES = [
    # arithmetic, comparisons, bool, Go float semantics
    "-temp",
    "temp % 7",
    "temp ^ 2",
    "2 ^ 0.5 + temp",
    "temp atan2 on(room) temp",
    "temp > 15",
    "15 < temp",
    "abs(temp) > bool 10",
    "up == bool 1",
    "mixed > 5",
    "mixed == bool mixed",
    "mixed != mixed",
    "sum(mixed) by (a) / 0",
    "-sum(up) / 0",
    "0 / 0 * up",
    "up * -0",
    "(up == 0) * 5",
    "scalar(sum(up)) * temp",
    # vector matching
    "sum by (job) (rate(req_total[5m])) / on(job) group_left(team) info",
    "sum(temp) by (room) * on(room) group_right temp",
    "req_total / ignoring(code) group_left up",
    "vector(1) + on() group_left sum(up)",
    'up unless on(job) info{team="y"}',
    "up and on(instance) req_total",
    "up or on(job) info",
    "sum by (instance) (req_total) and on(instance) up == 1",
    "req_total unless ignoring(code) up == 0",
    # aggregations
    "sum without (instance) (rate(req_total[5m]))",
    "avg by (job) (up)",
    "count by (job) (up == 1)",
    "topk(2, req_total)",
    "bottomk(1, req_total) by (job)",
    "quantile(0.3, temp)",
    "quantile by (job) (0.9, req_total)",
    "stddev(temp)",
    "stdvar by (room) (temp)",
    'count_values("v", up)',
    'count_values without (instance) ("v", up)',
    "max(temp) - min(temp)",
    "avg without (room) (temp)",
    "group by (job) (req_total)",
    "sum(mixed)",
    "max(mixed)",
    "min(mixed)",
    "avg(mixed)",
    'sum(up{job="nope"})',
    "count(up) > 1",
    # modifiers and subqueries
    "temp offset 3m",
    "up offset -1m",
    "up @ 300",
    "rate(req_total[5m] @ 300)",
    "sum_over_time(temp[3m] @ 500 offset 1m)",
    "avg_over_time(temp[5m:45s])",
    "max_over_time(up[5m:1m] offset 2m)",
    "min_over_time(rate(req_total[2m])[5m:1m])",
    # errors
    "req_total + on(job) up",
    "req_total + ignoring(code, instance) up",
    "sum by (job) (req_total) + on(job) group_left up",
]

_BLOCK = re.compile(r'^    expr: "(?P<expr>.*)", time: [^,]+,(?: err: (?P<err>.*))?$', re.MULTILINE)
_GOT = re.compile(r"^        got: (?P<got>.*)$", re.MULTILINE)
_SAMPLE = re.compile(r"(\{[^}]*\}) (\S+?)(?:, |$)")


def _promtool_results(tmp_path: Path) -> dict[str, dict[str, float] | str]:
    if not shutil.which(PROMTOOL):
        if os.environ.get("CI"):
            pytest.fail(f"{PROMTOOL} is missing")
        pytest.skip(f"{PROMTOOL} is missing")
    (tmp_path / "rules.yml").write_text("groups: []\n", encoding="utf-8")
    unit = {
        "rule_files": ["rules.yml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [{"series": k, "values": v} for k, v in SERIES.items()],
                "promql_expr_test": [
                    {"expr": q, "eval_time": "10m30s", "exp_samples": []} for q in QUERIES
                ],
            }
        ],
    }
    (tmp_path / "unit.yml").write_text(json.dumps(unit), encoding="utf-8")  # JSON is YAML
    proc = subprocess.run(
        [PROMTOOL, "test", "rules", "unit.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    out = proc.stdout + proc.stderr
    results: dict[str, dict[str, float] | str] = {}
    blocks = list(_BLOCK.finditer(out))
    for k, block in enumerate(blocks):
        expr = json.loads(f'"{block.group("expr")}"')
        if block.group("err"):
            results[expr] = block.group("err")
            continue
        end = blocks[k + 1].start() if k + 1 < len(blocks) else len(out)
        got = _GOT.search(out, block.end(), end)
        samples = {} if got is None else dict(_SAMPLE.findall(got.group("got")))
        results[expr] = {labels: float(v) for labels, v in samples.items()}
    return results  # a query that returned nothing passed (exp_samples: []): not listed


@pytest.fixture(scope="module")
def prometheus_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    results = _promtool_results(tmp_path_factory.mktemp("promtool"))
    assert len(results) > len(QUERIES) // 2, "promtool printed too few results"
    return dict(results)


@pytest.fixture(scope="module")
def engine() -> Engine:
    storage = ListStorage()
    for text, values in SERIES.items():
        labels, _ = parse_series(text)
        for k, v in enumerate(parse_points(values)):
            if v is not None:
                storage.append(labels, k * 60_000, v)
    return Engine(storage)


def _same(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b or abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))


def _pair_sorted(message: str) -> str:
    # 3.x names the two duplicate series in sorted order (operators.test), 2.42 as found.
    match = re.search(r"\[(\{.*?\}), (\{.*?\})\]", message)
    if match is None:
        return message
    pair = ", ".join(sorted(match.groups()))
    return message[: match.start()] + f"[{pair}]" + message[match.end() :]


def _key(labels: str) -> str:
    return re.sub(r"\s", "", labels)


@pytest.mark.parametrize("query", QUERIES)
def test_same_result_as_prometheus(
    query: str, engine: Engine, prometheus_results: dict[str, object]
) -> None:
    theirs = prometheus_results.get(query, {})
    if isinstance(theirs, str):
        with pytest.raises(QueryError) as err:
            engine.instant(query, EVAL_MS)
        assert _pair_sorted(str(err.value)) == _pair_sorted(theirs)
        return
    value = engine.instant(query, EVAL_MS).value
    assert isinstance(value, Vector)
    assert isinstance(theirs, dict), f"Prometheus failed: {theirs}"
    ours = {_key("{" + ", ".join(f'{k}="{v}"' for k, v in s.labels) + "}"): s.v for s in value}
    expected = {_key(k): v for k, v in theirs.items()}
    assert ours.keys() == expected.keys()
    for labels, v in ours.items():
        assert _same(v, expected[labels]), f"{labels}: {v} != {expected[labels]}"
