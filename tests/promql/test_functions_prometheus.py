"""The functions against real Prometheus (Debian ``prometheus``, 2.42): the same samples
loaded into both (promtool builds TSDB blocks from OpenMetrics text; a loopback
Prometheus serves them), the same queries, results compared within float tolerance.

Prometheus 2.42 selects closed ranges ``[t - range, t]`` where the 3.x semantics we
implement are left-open; no sample here sits on a whole second, and every query time and
range is whole seconds, so no sample is ever on a boundary and the two agree. 2.42 also
limits ``rate``'s extrapolation to a counter's zero point before it applies the
half-interval rule, where 3.x applies it after; that differs only for a window that starts
before a counter's first sample, so every counter window here starts inside the data.
"""

from __future__ import annotations

import asyncio
import math
import os
import random
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from support.eventually import eventually
from support.net import LOOPBACK, free_port
from tradewarden.promql import Engine, Matrix, Scalar, Vector
from tradewarden.series import Labels, ListStorage

pytestmark = pytest.mark.slow

PROMETHEUS = "/usr/bin/prometheus"
PROMTOOL = "/usr/bin/promtool"
STEP_MS = 15_000
POINTS = 480  # two hours
# Whole seconds after the first sample; the data start a few hours before now, inside
# Prometheus's retention.
QUERY_OFFSETS_S = (2_820, 3_661, 4_301, 5_700, 7_080)


@dataclass(frozen=True)
class Loaded:
    """The same data in our engine and in a running Prometheus."""

    engine: Engine
    client: httpx.Client
    base_ms: int


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _sample_times(rng: random.Random, base_ms: int, present: range) -> list[int]:
    # 125 ms + a multiple of 250 ms: never on a whole second, and exact in float seconds.
    return [base_ms + i * STEP_MS + rng.randrange(60) * 250 + 125 for i in present]


def _dataset(base_ms: int) -> dict[Labels, tuple[list[int], list[float]]]:
    rng = random.Random(20261201)
    data: dict[Labels, tuple[list[int], list[float]]] = {}
    everything = range(POINTS)
    for instance in ("a", "b", "c"):
        total, values = 0.0, []
        for i in everything:
            total = float(rng.randrange(5)) if instance == "b" and i == 200 else total
            total += rng.randrange(12)
            values.append(total)
        labels = Labels.of(__name__="demo_requests_total", job="api", instance=instance)
        data[labels] = (_sample_times(rng, base_ms, everything), values)
    for queue in ("q1", "q2"):
        depth, values = 0.0, []
        for _ in everything:
            depth = max(-50.0, min(50.0, depth + rng.randrange(-6, 7)))
            values.append(depth)
        labels = Labels.of(__name__="demo_queue_depth", queue=queue)
        data[labels] = (_sample_times(rng, base_ms, everything), values)
    ratio = [round(rng.uniform(-0.99, 0.99), 3) for _ in everything]
    data[Labels.of(__name__="demo_ratio", k="x")] = (_sample_times(rng, base_ms, everything), ratio)
    sporadic = range(100, 161)
    data[Labels.of(__name__="demo_sporadic", job="batch")] = (
        _sample_times(rng, base_ms, sporadic),
        [float(rng.randrange(100)) for _ in sporadic],
    )
    bounds = ("0.05", "0.1", "0.25", "0.5", "1", "+Inf")
    for instance in ("a", "b"):
        times = _sample_times(rng, base_ms, everything)
        per_bucket = [0.0] * len(bounds)
        spread = (12, 9, 6, 4, 2, 1)  # most observations in the low buckets
        series: list[list[float]] = [[] for _ in bounds]
        for _ in everything:
            for k in range(len(bounds)):
                per_bucket[k] += rng.randrange(spread[k])
            cumulative = 0.0
            for k in range(len(bounds)):
                cumulative += per_bucket[k]
                series[k].append(cumulative)
        for k, le in enumerate(bounds):
            labels = Labels.of(__name__="demo_latency_seconds_bucket", instance=instance, le=le)
            data[labels] = (times, series[k])
    return data


def _openmetrics(data: dict[Labels, tuple[list[int], list[float]]]) -> str:
    lines = []
    for labels, (ts, vs) in data.items():  # one metric name's series are adjacent
        rest = ",".join(f'{k}="{v}"' for k, v in labels if k != "__name__")
        for t, v in zip(ts, vs, strict=True):
            lines.append(f"{labels.metric_name}{{{rest}}} {v!r} {t // 1000}.{t % 1000:03d}")
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


def _binaries() -> None:
    for binary in (PROMETHEUS, PROMTOOL):
        if shutil.which(binary) is None:
            if _in_ci():
                pytest.fail(f"{binary} is missing (install the Debian package prometheus)")
            pytest.skip(f"{binary} is not installed")


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loaded]:
    """Both engines over the same data; Prometheus runs for the module's tests."""
    _binaries()
    root = tmp_path_factory.mktemp("prometheus")
    base_ms = (int(time.time()) // 3600 - 4) * 3_600_000
    data = _dataset(base_ms)
    (root / "data.om").write_text(_openmetrics(data), encoding="utf-8")
    subprocess.run(
        [
            PROMTOOL,
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            str(root / "data.om"),
            str(root / "tsdb"),
        ],
        check=True,
        capture_output=True,
    )
    (root / "prometheus.yml").write_text("global: {}\n", encoding="utf-8")
    port = free_port()
    log = (root / "prometheus.log").open("wb")
    server = subprocess.Popen(
        [
            PROMETHEUS,
            f"--config.file={root / 'prometheus.yml'}",
            f"--storage.tsdb.path={root / 'tsdb'}",
            "--storage.tsdb.retention.time=10y",
            f"--web.listen-address={LOOPBACK}:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    client = httpx.Client(base_url=f"http://{LOOPBACK}:{port}", timeout=10)
    try:
        asyncio.run(eventually(lambda: _ready(client, server), timeout_s=30))
        storage = ListStorage()
        for labels, (ts, vs) in data.items():
            for t, v in zip(ts, vs, strict=True):
                storage.append(labels, t, v)
        yield Loaded(Engine(storage), client, base_ms)
    finally:
        client.close()
        server.terminate()
        server.wait(timeout=30)
        log.close()


def _ready(client: httpx.Client, server: subprocess.Popen[bytes]) -> bool:
    if server.poll() is not None:
        raise AssertionError(f"prometheus exited with {server.returncode}")
    try:
        return client.get("/-/ready").status_code == 200
    except httpx.TransportError:
        return False


def _theirs_instant(loaded: Loaded, query: str, t_s: int) -> Any:
    response = loaded.client.get("/api/v1/query", params={"query": query, "time": t_s})
    body = response.json()
    assert body["status"] == "success", body
    return body["data"]


def _theirs_range(loaded: Loaded, query: str, start_s: int, end_s: int, step_s: int) -> Any:
    params: dict[str, str | int] = {"query": query, "start": start_s, "end": end_s, "step": step_s}
    body = loaded.client.get("/api/v1/query_range", params=params).json()
    assert body["status"] == "success", body
    return body["data"]


def _key(metric: dict[str, str]) -> Labels:
    return Labels.of(metric)


def _close(ours: float, theirs: float) -> bool:
    if math.isnan(ours) or math.isnan(theirs):
        return math.isnan(ours) and math.isnan(theirs)
    return ours == theirs or math.isclose(ours, theirs, rel_tol=1e-9, abs_tol=1e-12)


def _compare_vector(ours: Vector, theirs: list[dict[str, Any]], *, ordered: bool) -> None:
    mine = [(s.labels, s.v) for s in ours]
    other = [(_key(r["metric"]), float(r["value"][1])) for r in theirs]
    if ordered:
        assert [labels for labels, _ in mine] == [labels for labels, _ in other]
    assert dict(mine).keys() == dict(other).keys()
    expected = dict(other)
    for labels, value in mine:
        assert _close(value, expected[labels]), (labels, value, expected[labels])


# (our query, Prometheus 2.42's spelling when it differs)
INSTANT_QUERIES: list[str | tuple[str, str]] = [
    "rate(demo_requests_total[5m])",
    "rate(demo_requests_total[17m])",
    "increase(demo_requests_total[40m])",
    "irate(demo_requests_total[2m])",
    "resets(demo_requests_total[2h])",
    "changes(demo_queue_depth[10m])",
    "delta(demo_queue_depth[10m])",
    "idelta(demo_queue_depth[3m])",
    "deriv(demo_queue_depth[10m])",
    "predict_linear(demo_queue_depth[15m], 600)",
    "delta(demo_sporadic[20m])",
    "rate(demo_sporadic[20m])",
    "avg_over_time(demo_queue_depth[10m])",
    "min_over_time(demo_queue_depth[10m])",
    "max_over_time(demo_queue_depth[10m])",
    "sum_over_time(demo_queue_depth[10m])",
    "count_over_time(demo_queue_depth[7m])",
    "last_over_time(demo_sporadic[1h])",
    "quantile_over_time(0.9, demo_queue_depth[30m])",
    "quantile_over_time(0.25, demo_ratio[30m])",
    "stddev_over_time(demo_queue_depth[30m])",
    "stdvar_over_time(demo_ratio[30m])",
    "present_over_time(demo_sporadic[10m])",
    'absent_over_time(demo_sporadic{job="batch"}[10m])',
    'absent(demo_nothing{job="x", env=~"p.*"})',
    "absent(demo_queue_depth)",
    (
        "double_exponential_smoothing(demo_queue_depth[20m], 0.3, 0.6)",
        "holt_winters(demo_queue_depth[20m], 0.3, 0.6)",
    ),
    "histogram_quantile(0.9, rate(demo_latency_seconds_bucket[10m]))",
    "histogram_quantile(0.5, sum by (le) (rate(demo_latency_seconds_bucket[10m])))",
    "histogram_quantile(0.99, demo_latency_seconds_bucket)",
    "histogram_quantile(0.3, demo_latency_seconds_bucket)",
    'histogram_quantile(0.75, rate(demo_latency_seconds_bucket{instance="a"}[30m]))',
    "abs(demo_queue_depth)",
    "sgn(demo_queue_depth)",
    "clamp(demo_queue_depth, -10, 10)",
    "clamp_min(demo_queue_depth, 0)",
    "clamp_max(demo_queue_depth, 0)",
    "round(demo_ratio, 0.1)",
    "round(demo_ratio * 7)",
    "ceil(demo_ratio * 7)",
    "floor(demo_ratio * 7)",
    "exp(demo_queue_depth / 5)",
    "ln(demo_queue_depth)",
    "log2(demo_queue_depth)",
    "log10(demo_queue_depth)",
    "sqrt(demo_queue_depth)",
    "sin(demo_ratio)",
    "cos(demo_ratio)",
    "tan(demo_ratio)",
    "asin(demo_ratio)",
    "acos(demo_ratio)",
    "atan(demo_queue_depth)",
    "sinh(demo_ratio)",
    "cosh(demo_ratio)",
    "tanh(demo_queue_depth)",
    "asinh(demo_queue_depth)",
    "acosh(demo_queue_depth)",
    "atanh(demo_ratio)",
    "deg(demo_ratio)",
    "rad(demo_queue_depth)",
    "timestamp(demo_queue_depth)",
    "minute(timestamp(demo_queue_depth))",
    "hour(timestamp(demo_queue_depth))",
    "day_of_week(timestamp(demo_queue_depth))",
    "days_in_month()",
    "vector(time())",
    "vector(scalar(sum(demo_queue_depth)))",
    'label_replace(demo_queue_depth, "n", "$1", "queue", "q(.*)")',
    'label_join(demo_requests_total, "id", "/", "job", "instance")',
]

EXPECTED_EMPTY = {"absent(demo_queue_depth)"}

ORDERED_QUERIES = [
    "sort(demo_queue_depth)",
    "sort_desc(rate(demo_requests_total[5m]))",
]


def _spellings(query: str | tuple[str, str]) -> tuple[str, str]:
    return (query, query) if isinstance(query, str) else query


@pytest.mark.parametrize("query", INSTANT_QUERIES, ids=lambda q: _spellings(q)[0])
def test_instant_query_matches_prometheus(loaded: Loaded, query: str | tuple[str, str]) -> None:
    ours_text, theirs_text = _spellings(query)
    found = 0
    for offset_s in QUERY_OFFSETS_S:
        t_s = loaded.base_ms // 1000 + offset_s
        theirs = _theirs_instant(loaded, theirs_text, t_s)
        ours = loaded.engine.instant(ours_text, t_s * 1000).value
        if theirs["resultType"] == "scalar":
            assert isinstance(ours, Scalar)
            assert _close(ours.v, float(theirs["result"][1]))
            continue
        assert isinstance(ours, Vector), ours
        _compare_vector(ours, theirs["result"], ordered=False)
        found += len(ours)
    assert found or ours_text in EXPECTED_EMPTY


@pytest.mark.parametrize("query", ORDERED_QUERIES)
def test_sorted_results_match_prometheus_order(loaded: Loaded, query: str) -> None:
    for offset_s in QUERY_OFFSETS_S:
        t_s = loaded.base_ms // 1000 + offset_s
        ours = loaded.engine.instant(query, t_s * 1000).value
        assert isinstance(ours, Vector)
        _compare_vector(ours, _theirs_instant(loaded, query, t_s)["result"], ordered=True)


SUBQUERIES = [
    "rate(demo_requests_total[10m:1m])",
    "max_over_time(rate(demo_requests_total[5m])[10m:30s])",
    "deriv(avg_over_time(demo_queue_depth[2m])[15m:1m])",
    "quantile_over_time(0.5, demo_ratio[7m:20s])",
    "absent_over_time(demo_sporadic[5m:1m])",
]
# A subquery's points sit on multiples of its step: these times keep them off the window
# boundaries too (2.42's closed ranges would take a point there, 3.x's do not).
SUBQUERY_OFFSETS_S = (3_661, 4_301, 5_533)


@pytest.mark.parametrize("query", SUBQUERIES)
def test_functions_over_subqueries_match_prometheus(loaded: Loaded, query: str) -> None:
    for offset_s in SUBQUERY_OFFSETS_S:
        t_s = loaded.base_ms // 1000 + offset_s
        ours = loaded.engine.instant(query, t_s * 1000).value
        assert isinstance(ours, Vector)
        _compare_vector(ours, _theirs_instant(loaded, query, t_s)["result"], ordered=False)


RANGE_QUERIES = [
    "rate(demo_requests_total[5m])",
    "delta(demo_sporadic[10m])",
    "histogram_quantile(0.75, sum by (le) (rate(demo_latency_seconds_bucket[5m])))",
    "max_over_time(demo_queue_depth[3m])",
    "absent_over_time(demo_sporadic[5m])",
]


@pytest.mark.parametrize("query", RANGE_QUERIES)
def test_range_query_matches_prometheus(loaded: Loaded, query: str) -> None:
    start_s = loaded.base_ms // 1000 + 1_500
    end_s = start_s + 2_400
    theirs = _theirs_range(loaded, query, start_s, end_s, 60)
    ours = loaded.engine.range(query, start_s * 1000, end_s * 1000, 60_000).value
    assert isinstance(ours, Matrix)
    mine = {s.labels: dict(zip((t // 1000 for t in s.ts), s.vs, strict=True)) for s in ours}
    other = {
        _key(r["metric"]): {int(t): float(v) for t, v in r["values"]} for r in theirs["result"]
    }
    assert mine.keys() == other.keys()
    for labels, points in mine.items():
        assert points.keys() == other[labels].keys(), labels
        for t, v in points.items():
            assert _close(v, other[labels][t]), (labels, t, v, other[labels][t])


def test_the_data_reached_prometheus(loaded: Loaded) -> None:
    t_s = loaded.base_ms // 1000 + QUERY_OFFSETS_S[0]
    result = _theirs_instant(loaded, "count(demo_latency_seconds_bucket)", t_s)["result"]
    assert float(result[0]["value"][1]) == 12
