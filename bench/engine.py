"""The embedded metrics engine against real Prometheus (Debian's v2.42), in the same run.

Three measurements (the issue's "Done when"):

1. **Rule evaluation**: one group of 1,000 alert rules over 50,000 series. The same data
   goes to Prometheus as TSDB blocks (``promtool tsdb create-blocks-from openmetrics``)
   and to the warden's store by ``append``; Prometheus evaluates the group on its
   interval and reports ``evaluationTime`` at ``/api/v1/rules``; the warden's rule manager
   evaluates it at the same data times and reports its group's duration. Target: at most
   5x Prometheus. The same data gives **bytes per sample**: the warden's store estimate
   against the size of Prometheus's chunk files per sample (target: at most 20 B).
2. **Scrape ingestion**: the warden's scraper and Prometheus scrape the same loopback
   target (a static text body of ``--scrape-series`` series, served by another process)
   every second; samples stored per second and per CPU second of each.
3. **Condition to firing**: ``tradewarden up`` with ``--monitors`` HTTP monitors every 5 s
   (DOWN after one failure) and its default rules; Prometheus scrapes the targets' state
   every 5 s and evaluates ``== 0`` every 5 s. Each round every target starts failing at a
   random moment; the time until each system's ``ALERTS{alertstate="firing"}`` shows it
   is polled every 25 ms. Target: warden p99 under 5 s + 200 ms.

    .venv/bin/python bench/engine.py [--quick] [--json out.json]

Everything runs on 127.0.0.1 and stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import random
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from aiohttp import web

from _loadgen import percentile

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
PROMETHEUS = "/usr/bin/prometheus"
PROMTOOL = "/usr/bin/promtool"
_SCRUBBED_PREFIXES = ("TRADEWARDEN_", "OTEL_", "SENTRY_")
_SCRUBBED_NAMES = {"DATABASE_URL", "REDIS_URL"}

BOUND_EVAL_RATIO = 5.0
BOUND_BYTES_PER_SAMPLE = 20.0
PROBE_INTERVAL_S = 5.0
BOUND_LATENCY_P99_S = PROBE_INTERVAL_S + 0.2


# -- helpers ----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _cpu_s(pid: int) -> float:
    """CPU seconds (user + system) of ``pid`` (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _own_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(_SCRUBBED_PREFIXES) and k not in _SCRUBBED_NAMES
    }
    return {**env, **extra}


def _yaml(document: Any) -> str:
    # JSON is YAML: no YAML writer needed for configs and rule files.
    return json.dumps(document, indent=1)


@contextlib.asynccontextmanager
async def _prometheus(config: Path, data: Path, *, log_name: str) -> AsyncIterator[tuple[str, int]]:
    """Run Prometheus on a free loopback port; yield its URL and pid once ready."""
    port = _free_port()
    log = (data.parent / f"{log_name}.log").open("wb")
    process = subprocess.Popen(  # noqa: ASYNC220 - a start, not a wait; the wait is threaded
        [
            PROMETHEUS,
            f"--config.file={config}",
            f"--storage.tsdb.path={data}",
            f"--web.listen-address={HOST}:{port}",
            "--storage.tsdb.retention.time=1d",
            "--log.level=warn",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://{HOST}:{port}"
    try:
        async with httpx.AsyncClient() as http:
            deadline = time.monotonic() + 120
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"prometheus exited: see {log.name}")
                with contextlib.suppress(httpx.TransportError):
                    if (await http.get(f"{url}/-/ready")).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError("prometheus not ready in 120 s")
                await asyncio.sleep(0.2)
        yield url, process.pid
    finally:
        process.terminate()
        try:
            await asyncio.wait_for(asyncio.to_thread(process.wait), 30)
        except TimeoutError:
            process.kill()
        log.close()


# -- 1. rule evaluation and bytes per sample -------------------------------------------


FAMILIES = 50
INSTANCES = 50
SHARDS = 10
SAMPLE_STEP_S = 30


def _level(f: int, i: int, s: int, n: int) -> float:
    x = (f * 7919 + i * 104729 + s * 1299709 + n * 15485863) % 10007
    return round(x / 10007, 4)


def _increment(f: int, i: int, s: int, n: int) -> int:
    return (f * 31 + i * 17 + s * 13 + n * 7) % 11


def _series_labels(i: int, s: int) -> str:
    return f'job="bench",instance="i{i}",shard="s{s}"'


def rule_file(families: int) -> dict[str, Any]:
    """1,000 alert rules (20 per family): thresholds, rates, aggregations, *_over_time."""
    rules: list[dict[str, Any]] = []
    for f in range(families):
        g, c = f"bench_f{f}_level", f"bench_f{f}_events_total"
        exprs = [
            f"{g} > 0.95",
            f'{g}{{shard="s{f % SHARDS}"}} < 0.05',
            f"rate({c}[2m]) > 0.3",
            f"sum by (instance) (rate({c}[2m])) > 2",
            f"avg_over_time({g}[3m]) > 0.8",
            f"max by (shard) ({g}) > 0.99",
            f"count by (instance) ({g} > 0.5) > 8",
            f'absent({g}{{instance="i0"}})',
            f"predict_linear({g}[3m], 600) < -1",
            f"increase({c}[3m]) > 50",
            f"{g} - {g} offset 1m > 0.8",
            f"topk(3, {g}) > 0.999",
            f"quantile by (shard) (0.9, {g}) > 0.95",
            f"sum(rate({c}[2m])) / count({c}) > 0.25",
            f"{g} > on (instance, shard) 3 * ({g} offset 2m)",
            f"stddev_over_time({g}[3m]) > 0.35",
            f"deriv({g}[3m]) > 0.01",
            f"min_over_time({g}[2m]) < 0.002",
            f"changes({g}[3m]) > 5",
            f"irate({c}[2m]) > 0.33",
        ]
        for index, expr in enumerate(exprs):
            rule: dict[str, Any] = {
                "alert": f"Bench{f}_{index}",
                "expr": expr,
                "labels": {"severity": "warning"},
                "annotations": {"summary": "{{ $labels.instance }}: {{ $value | humanize }}"},
            }
            if index % 4 == 0:
                rule["for"] = "5m"
            rules.append(rule)
    return {"groups": [{"name": "bench", "interval": "10s", "rules": rules}]}


def _write_openmetrics(path: Path, families: int, steps: int, start_s: int) -> int:
    """Write the data as OpenMetrics; return the sample count."""
    samples = 0
    with path.open("w", encoding="utf-8") as out:
        for f in range(families):
            out.write(f"# TYPE bench_f{f}_level gauge\n")
            for i in range(INSTANCES):
                for s in range(SHARDS):
                    labels = _series_labels(i, s)
                    for n in range(steps):
                        value = _level(f, i, s, n)
                        out.write(
                            f"bench_f{f}_level{{{labels}}} {value} {start_s + n * SAMPLE_STEP_S}\n"
                        )
            out.write(f"# TYPE bench_f{f}_events counter\n")
            for i in range(INSTANCES):
                for s in range(SHARDS):
                    labels = _series_labels(i, s)
                    total = 0
                    for n in range(steps):
                        total += _increment(f, i, s, n)
                        at = start_s + n * SAMPLE_STEP_S
                        out.write(f"bench_f{f}_events_total{{{labels}}} {total} {at}\n")
            samples += 2 * INSTANCES * SHARDS * steps
        out.write("# EOF\n")
    return samples


def _fill_store(store: Any, families: int, steps: int, start_s: int) -> float:
    """Append the same data to the warden's store; return the wall seconds it took."""
    from tradewarden.series import Labels

    began = time.perf_counter()
    for f in range(families):
        for i in range(INSTANCES):
            for s in range(SHARDS):
                base = {"job": "bench", "instance": f"i{i}", "shard": f"s{s}"}
                gauge = Labels.of(__name__=f"bench_f{f}_level", **base)
                counter = Labels.of(__name__=f"bench_f{f}_events_total", **base)
                total = 0
                for n in range(steps):
                    t_ms = (start_s + n * SAMPLE_STEP_S) * 1000
                    store.append(gauge, t_ms, _level(f, i, s, n))
                    total += _increment(f, i, s, n)
                    store.append(counter, t_ms, float(total))
    return time.perf_counter() - began


def _block_bytes_per_sample(data: Path) -> tuple[float, int]:
    chunk_bytes = 0
    samples = 0
    for meta in data.glob("*/meta.json"):
        samples += json.loads(meta.read_text())["stats"]["numSamples"]
        chunk_bytes += sum(p.stat().st_size for p in (meta.parent / "chunks").iterdir())
    return (chunk_bytes / samples if samples else math.nan), samples


async def _prometheus_eval_times(url: str, evaluations: int, *, after: float) -> list[float]:
    """Poll /api/v1/rules until ``evaluations`` evaluations of the group that began after
    ``after`` (Unix time), the first of them skipped."""
    seen: dict[str, float] = {}
    async with httpx.AsyncClient(timeout=30) as http:
        deadline = time.monotonic() + 60 + evaluations * 30
        while len(seen) < evaluations + 1 and time.monotonic() < deadline:
            body = (await http.get(f"{url}/api/v1/rules")).json()
            for group in body["data"]["groups"]:
                evaluated = group.get("lastEvaluation", "0001")
                if group["name"] != "bench" or evaluated.startswith("0001"):
                    continue
                if (
                    datetime.fromisoformat(evaluated[:26].rstrip("Z"))
                    .replace(tzinfo=UTC)
                    .timestamp()
                    > after
                ):
                    seen[evaluated] = float(group["evaluationTime"])
            await asyncio.sleep(1.0)
    ordered = [seen[k] for k in sorted(seen)]
    return ordered[1:] if len(ordered) > 1 else ordered


async def _prometheus_count(url: str, metric: str, at_s: int) -> float:
    query = f"sum(count_over_time({metric}[1h]))"
    async with httpx.AsyncClient(timeout=60) as http:
        body = (await http.get(f"{url}/api/v1/query", params={"query": query, "time": at_s})).json()
    result = body["data"]["result"]
    return float(result[0]["value"][1]) if result else 0.0


class _StepTarget:
    """Serves step n of the data on its n-th scrape (timestamps in the body), so that
    Prometheus scrapes minutes of history into its head in seconds."""

    def __init__(self, families: int, steps: int, start_s: int) -> None:
        self._families, self._steps, self._start_s = families, steps, start_s
        self.served = 0
        self.done = asyncio.Event()  # every step served, the last one twice
        self._ready: list[bytes] = []
        self._runner: web.AppRunner | None = None

    def _bodies(self) -> list[bytes]:
        """Every step's body, made before serving (a slow body would miss its scrape)."""
        totals: dict[tuple[int, int, int], int] = {}
        bodies = []
        for n in range(self._steps):
            t_ms = (self._start_s + n * SAMPLE_STEP_S) * 1000
            lines: list[str] = []
            for f in range(self._families):
                lines.append(f"# TYPE bench_f{f}_level gauge")
                lines += [
                    f"bench_f{f}_level{{{_series_labels(i, s)}}} {_level(f, i, s, n)} {t_ms}"
                    for i in range(INSTANCES)
                    for s in range(SHARDS)
                ]
                lines.append(f"# TYPE bench_f{f}_events_total counter")
                for i in range(INSTANCES):
                    for s in range(SHARDS):
                        key = (f, i, s)
                        totals[key] = totals.get(key, 0) + _increment(f, i, s, n)
                        labels = _series_labels(i, s)
                        lines.append(f"bench_f{f}_events_total{{{labels}}} {totals[key]} {t_ms}")
            bodies.append(("\n".join(lines) + "\n").encode())
        return bodies

    async def _metrics(self, _request: web.Request) -> web.Response:
        n = min(self.served, self._steps - 1)
        self.served += 1
        if self.served > self._steps:
            self.done.set()
        return web.Response(body=self._ready[n], content_type="text/plain")

    async def start(self) -> int:
        self._ready = await asyncio.to_thread(self._bodies)
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        port = _free_port()
        await web.TCPSite(self._runner, HOST, port).start()
        return port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


async def bench_rules(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Measurement 1: one group of 1,000 rules over 50,000 series, both engines."""
    from tradewarden.clock import ManualClock
    from tradewarden.promql import Engine
    from tradewarden.rules import RuleManager, RuleManagerOptions, engine_query
    from tradewarden.series._store import SeriesStore

    families = args.families
    steps = 25  # 12 minutes at 30 s: 6 before now, 6 after (so "now" stays within the data)
    now_s = int(time.time())
    start_s = now_s - now_s % SAMPLE_STEP_S - 6 * 60
    rules_path = work / "bench-rules.yml"
    rules_path.write_text(_yaml(rule_file(families)), encoding="utf-8")
    print(
        f"[1] data: {families * 2 * INSTANCES * SHARDS:,} series x {steps} samples; "
        f"{len(rule_file(families)['groups'][0]['rules'])} rules",
        flush=True,
    )

    samples = families * 2 * INSTANCES * SHARDS * steps
    prom_bps = math.nan
    config = work / "prometheus-rules.yml"
    data = work / "prometheus-rules"
    settings: dict[str, Any] = {
        "global": {"evaluation_interval": "10s"},
        "rule_files": [str(rules_path)],
    }
    if args.prometheus_data == "blocks":
        om = work / "data.om"
        _write_openmetrics(om, families, steps, start_s)
        began = time.perf_counter()
        await asyncio.to_thread(
            subprocess.run,
            [PROMTOOL, "tsdb", "create-blocks-from", "openmetrics", str(om), str(data)],
            check=True,
            capture_output=True,
        )
        print(f"    promtool wrote the blocks in {time.perf_counter() - began:.1f} s", flush=True)
        om.unlink()
        prom_bps, _ = _block_bytes_per_sample(data)
        config.write_text(_yaml(settings), encoding="utf-8")
        async with _prometheus(config, data, log_name="prometheus-rules") as (url, _pid):
            prom_times = await _prometheus_eval_times(url, args.evaluations, after=0.0)
    else:
        target = _StepTarget(families, steps, start_s)
        port = await target.start()
        settings["scrape_configs"] = [
            {
                "job_name": "bench",
                "honor_labels": True,  # the data's own job and instance, as in the blocks
                "scrape_interval": "2s",
                "scrape_timeout": "2s",
                "static_configs": [{"targets": [f"{HOST}:{port}"]}],
            }
        ]
        config.write_text(_yaml(settings), encoding="utf-8")
        try:
            async with _prometheus(config, data, log_name="prometheus-rules") as (url, _pid):
                await asyncio.wait_for(target.done.wait(), timeout=10 * steps)
                stored = await _prometheus_count(url, "bench_f0_level", start_s + steps * 30)
                expected = INSTANCES * SHARDS * steps
                print(
                    f"    prometheus scraped every step into its head: {stored:,.0f} of "
                    f"{expected:,} samples of bench_f0_level",
                    flush=True,
                )
                prom_times = await _prometheus_eval_times(url, args.evaluations, after=time.time())
        finally:
            await target.stop()
    print(f"    prometheus evaluationTime: {[round(t, 3) for t in prom_times]}", flush=True)

    store = SeriesStore(retention_ms=24 * 3_600_000, max_bytes=8 * 1024**3)
    append_s = _fill_store(store, families, steps, start_s)
    stats = store.stats()
    clock = ManualClock(float(now_s))
    manager = RuleManager(
        query=engine_query(Engine(store)),
        storage=store,
        appender=store,
        clock=clock,
        options=RuleManagerOptions(evaluation_interval_ms=10_000),
    )
    manager.load_files([rules_path])
    warden_times: list[float] = []
    for k in range(args.evaluations + 1):
        await manager.evaluate_now((now_s + 10 * k) * 1000)
        clock.advance(10.0)
        duration = manager.groups()[0].eval_duration_s
        if k:  # the first evaluation warms caches, as Prometheus's first is skipped
            warden_times.append(duration)
        print(f"    warden evaluation {k}: {duration:.3f} s", flush=True)
    prom_median = statistics.median(prom_times) if prom_times else math.nan
    warden_median = statistics.median(warden_times)
    return {
        "series": families * 2 * INSTANCES * SHARDS,
        "rules": families * 20,
        "samples": samples,
        "prometheus_eval_s": prom_times,
        "warden_eval_s": warden_times,
        "prometheus_eval_median_s": prom_median,
        "warden_eval_median_s": warden_median,
        "eval_ratio": warden_median / prom_median,
        "warden_bytes_per_sample": stats.bytes_per_sample,
        "prometheus_block_bytes_per_sample": prom_bps,
        "prometheus_data": args.prometheus_data,
        "warden_append_samples_per_s": stats.samples / append_s,
    }


# -- 1b. bytes per sample on series as long as the retention keeps them ----------------


def _long_series(series: int, samples: int, step_s: int, end_s: int) -> Iterator[Any]:
    """(name, labels, [(t_s, value)]) of gauges (a noisy walk, 2 decimals) and counters."""
    rng = random.Random(7)
    for n in range(series):
        counter = n % 2 == 1
        name = "bench_long_requests_total" if counter else "bench_long_temperature"
        labels = f'instance="i{n // 10}",item="n{n % 10}"'
        value = 0.0 if counter else 50.0
        points = []
        for k in range(samples):
            value = value + rng.randint(0, 20) if counter else round(value + rng.gauss(0, 0.5), 2)
            points.append((end_s - (samples - 1 - k) * step_s, value))
        yield name, labels, points


def bench_bytes(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Bytes per sample of the warden's store and of Prometheus's blocks, same data."""
    from tradewarden.series import Labels
    from tradewarden.series._store import SeriesStore

    series, samples, step_s = args.long_series, args.long_samples, 5
    end_s = int(time.time())
    print(
        f"[1b] bytes per sample: {series:,} series x {samples:,} samples (every {step_s} s)",
        flush=True,
    )
    om = work / "long.om"
    store = SeriesStore(retention_ms=48 * 3_600_000, max_bytes=8 * 1024**3)
    by_name: dict[str, list[tuple[str, list[tuple[int, float]]]]] = {}
    for name, labels, points in _long_series(series, samples, step_s, end_s):
        by_name.setdefault(name, []).append((labels, points))
        pairs = dict(pair.split("=", 1) for pair in labels.split(","))
        key = Labels.of(__name__=name, **{k: v.strip('"') for k, v in pairs.items()})
        for t_s, value in points:
            store.append(key, t_s * 1000, value)
    with om.open("w", encoding="utf-8") as out:
        for name, items in by_name.items():
            family = name.removesuffix("_total")
            kind = "counter" if name.endswith("_total") else "gauge"
            out.write(f"# TYPE {family} {kind}\n")
            for labels, points in items:
                out.writelines(f"{name}{{{labels}}} {value} {t_s}\n" for t_s, value in points)
        out.write("# EOF\n")
    data = work / "prometheus-long"
    subprocess.run(
        [PROMTOOL, "tsdb", "create-blocks-from", "openmetrics", str(om), str(data)],
        check=True,
        capture_output=True,
    )
    om.unlink()
    prom_bps, prom_samples = _block_bytes_per_sample(data)
    stats = store.stats()
    print(
        f"    warden {stats.bytes_per_sample:.2f} B/sample ({stats.samples:,} samples), "
        f"Prometheus blocks {prom_bps:.2f} B/sample ({prom_samples:,})",
        flush=True,
    )
    return {
        "series": series,
        "samples_per_series": samples,
        "warden_bytes_per_sample": stats.bytes_per_sample,
        "prometheus_block_bytes_per_sample": prom_bps,
        "ratio": stats.bytes_per_sample / prom_bps,
    }


# -- 2. scrape ingestion ----------------------------------------------------------------


def _static_body(series: int) -> str:
    lines = ["# TYPE bench_scrape_value gauge"]
    lines += [
        f'bench_scrape_value{{group="g{n // 100}",item="i{n % 100}"}} {(n * 7919) % 1000 / 7}'
        for n in range(series)
    ]
    return "\n".join(lines) + "\n"


@contextlib.contextmanager
def _static_target(body: str, work: Path) -> Iterator[int]:
    """Serve ``body`` at /metrics from another process (python -m http.server)."""
    folder = work / "static"
    folder.mkdir(exist_ok=True)
    (folder / "metrics").write_text(body, encoding="utf-8")
    port = _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "http.server",
            str(port),
            "--bind",
            HOST,
            "--directory",
            str(folder),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            with contextlib.suppress(OSError), socket.create_connection((HOST, port), 0.2):
                break
            if time.monotonic() > deadline:
                raise RuntimeError("static target did not start")
            time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        process.wait(10)


async def _appended(http: httpx.AsyncClient, url: str) -> float:
    """Samples Prometheus's head has appended, from its own /metrics."""
    text = (await http.get(f"{url}/metrics")).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("prometheus_tsdb_head_samples_appended_total")
    )


async def _prometheus_ingestion(url: str, pid: int, window_s: float) -> tuple[float, float]:
    async with httpx.AsyncClient(timeout=30) as http:
        await asyncio.sleep(5)  # warm-up: the first scrapes create the series
        first, cpu0, t0 = await _appended(http, url), _cpu_s(pid), time.monotonic()
        await asyncio.sleep(window_s)
        last, cpu1, t1 = await _appended(http, url), _cpu_s(pid), time.monotonic()
    return (last - first) / (t1 - t0), (last - first) / max(cpu1 - cpu0, 1e-9)


async def bench_ingestion(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Measurement 2: samples per second and per CPU second of scraping, both scrapers."""
    from tradewarden.series._config import ScrapeConfig
    from tradewarden.series._scrape import ScrapeManager
    from tradewarden.series._store import SeriesStore

    series = args.scrape_series
    print(f"[2] scrape ingestion: one target of {series:,} series, every 1 s", flush=True)
    with _static_target(_static_body(series), work) as port:
        scrape = {
            "job_name": "ingest",
            "scrape_interval": "1s",
            "scrape_timeout": "1s",
            "static_configs": [{"targets": [f"{HOST}:{port}"]}],
        }
        store = SeriesStore(retention_ms=3_600_000, max_bytes=4 * 1024**3)
        manager = ScrapeManager(store)
        await manager.start([ScrapeConfig.model_validate(scrape)])
        await asyncio.sleep(5)
        samples0, cpu0, t0 = store.stats().samples, _own_cpu_s(), time.monotonic()
        await asyncio.sleep(args.window)
        samples1, cpu1, t1 = store.stats().samples, _own_cpu_s(), time.monotonic()
        await manager.stop()
        health = manager.targets()[0]
        warden_rate = (samples1 - samples0) / (t1 - t0)
        warden_per_cpu = (samples1 - samples0) / max(cpu1 - cpu0, 1e-9)
        print(
            f"    warden: {warden_rate:,.0f} samples/s, {warden_per_cpu:,.0f} per CPU s "
            f"(last scrape {health.last_scrape_duration_s:.3f} s, {health.health})",
            flush=True,
        )

        config = work / "prometheus-ingest.yml"
        config.write_text(_yaml({"scrape_configs": [scrape]}), encoding="utf-8")
        async with _prometheus(
            config, work / "prometheus-ingest", log_name="prometheus-ingest"
        ) as (
            url,
            pid,
        ):
            prom_rate, prom_per_cpu = await _prometheus_ingestion(url, pid, args.window)
        print(
            f"    prometheus: {prom_rate:,.0f} samples/s, {prom_per_cpu:,.0f} per CPU s", flush=True
        )
    return {
        "series": series,
        "warden_samples_per_s": warden_rate,
        "warden_samples_per_cpu_s": warden_per_cpu,
        "warden_last_scrape_s": health.last_scrape_duration_s,
        "prometheus_samples_per_s": prom_rate,
        "prometheus_samples_per_cpu_s": prom_per_cpu,
        "per_cpu_ratio": prom_per_cpu / warden_per_cpu,
    }


# -- 3. condition to firing ---------------------------------------------------------------


@dataclass
class _Targets:
    healthy: dict[str, bool]

    async def check(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        return web.Response(status=200 if self.healthy[name] else 500, text=name)

    async def metrics(self, _request: web.Request) -> web.Response:
        lines = ["# TYPE bench_target_up gauge"]
        lines += [f'bench_target_up{{target="{n}"}} {int(ok)}' for n, ok in self.healthy.items()]
        return web.Response(text="\n".join(lines) + "\n", content_type="text/plain")


async def _firing(
    http: httpx.AsyncClient, url: str, label: str, headers: dict[str, str]
) -> set[str]:
    try:
        response = await http.get(
            f"{url}/api/v1/query", params={"query": 'ALERTS{alertstate="firing"}'}, headers=headers
        )
        result = response.json()["data"]["result"]
    except (httpx.HTTPError, KeyError, ValueError):
        return set()
    return {item["metric"].get(label, "") for item in result}


def _warden_config(names: list[str], target_port: int, warden_port: int) -> dict[str, Any]:
    return {
        "server": {"host": HOST, "port": warden_port},
        "metrics": {"self_scrape": False, "snapshot_enabled": False},
        "rules": {"packs": [], "default_rules": True},
        "monitors": [
            {
                "name": name,
                "kind": "http",
                "url": f"http://{HOST}:{target_port}/check/{name}",
                "interval_s": PROBE_INTERVAL_S,
                "timeout_s": 1,
                "failure": {"down_after": 1},
            }
            for name in names
        ],
    }


def _peer_files(work: Path, target_port: int) -> Path:
    rules = work / "latency-rules.yml"
    rule = {"alert": "TargetDown", "expr": "bench_target_up == 0"}
    rules.write_text(_yaml({"groups": [{"name": "latency", "rules": [rule]}]}), "utf-8")
    config = work / "prometheus-latency.yml"
    job = {"job_name": "targets", "static_configs": [{"targets": [f"{HOST}:{target_port}"]}]}
    config.write_text(
        _yaml(
            {
                "global": {"scrape_interval": "5s", "evaluation_interval": "5s"},
                "rule_files": [str(rules)],
                "scrape_configs": [job],
            }
        ),
        encoding="utf-8",
    )
    return config


@dataclass
class _Peers:
    http: httpx.AsyncClient
    warden_url: str
    auth: dict[str, str]
    prom_url: str

    async def firing(self) -> dict[str, set[str]]:
        return {
            "warden": await _firing(self.http, self.warden_url, "monitor", self.auth),
            "prometheus": await _firing(self.http, self.prom_url, "target", {}),
        }


async def _one_round(
    peers: _Peers, targets: _Targets, rng: random.Random
) -> dict[str, dict[str, float]]:
    """Fail every target at a random moment of one interval; time each system's alert."""
    names = list(targets.healthy)
    flips = {name: rng.uniform(0, PROBE_INTERVAL_S) for name in names}
    began = time.monotonic()
    failing_since: dict[str, float] = {}
    fired: dict[str, dict[str, float]] = {"warden": {}, "prometheus": {}}
    while time.monotonic() - began < 4 * PROBE_INTERVAL_S:
        for name, offset in flips.items():
            if name not in failing_since and time.monotonic() - began >= offset:
                targets.healthy[name] = False
                failing_since[name] = time.monotonic()
        seen = await peers.firing()
        stamp = time.monotonic()
        for system, names_firing in seen.items():
            for name in names_firing & failing_since.keys():
                fired[system].setdefault(name, stamp - failing_since[name])
        if all(len(found) == len(names) for found in fired.values()):
            break
        await asyncio.sleep(0.025)
    for name in names:
        targets.healthy[name] = True
    settle = time.monotonic() + 6 * PROBE_INTERVAL_S  # both resolved before the next round
    while time.monotonic() < settle:
        if not any((await peers.firing()).values()):
            break
        await asyncio.sleep(0.2)
    return fired


def _summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    if not ordered:
        return {"n": 0}
    return {
        "n": len(ordered),
        "p50_s": percentile(ordered, 0.5),
        "p99_s": percentile(ordered, 0.99),
        "max_s": ordered[-1],
    }


def _create_key(config: Path, env: dict[str, str]) -> str:
    command = [sys.executable, "-m", "tradewarden", "apikey", "create", "bench"]
    done = subprocess.run(
        [*command, "--role", "viewer", "--config", str(config)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return done.stdout.strip().splitlines()[-1].strip()


async def bench_latency(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Measurement 3: from a target failing to its alert firing, warden and Prometheus."""
    names = [f"t{n}" for n in range(args.monitors)]
    targets = _Targets(dict.fromkeys(names, True))
    app = web.Application()
    app.router.add_get("/check/{name}", targets.check)
    app.router.add_get("/metrics", targets.metrics)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    target_port = _free_port()
    await web.TCPSite(runner, HOST, target_port).start()
    print(
        f"[3] condition to firing: {len(names)} monitors every {PROBE_INTERVAL_S:g} s, "
        f"{args.rounds} rounds",
        flush=True,
    )
    warden_port = _free_port()
    config = work / "tradewarden.yaml"
    config.write_text(_yaml(_warden_config(names, target_port, warden_port)), "utf-8")
    env = _env(TRADEWARDEN_DATA_DIR=str(work / "warden"), TRADEWARDEN_LOG_LEVEL="WARNING")
    key = await asyncio.to_thread(_create_key, config, env)
    prom_config = _peer_files(work, target_port)
    log = (work / "warden.log").open("wb")
    warden = subprocess.Popen(  # noqa: ASYNC220 - a start, not a wait
        [sys.executable, "-m", "tradewarden", "up", "--config", str(config)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    latencies: dict[str, list[float]] = {"warden": [], "prometheus": []}
    try:
        async with (
            _prometheus(prom_config, work / "prometheus-latency", log_name="prom-latency") as (
                prom_url,
                _pid,
            ),
            httpx.AsyncClient(timeout=5) as http,
        ):
            peers = _Peers(
                http, f"http://{HOST}:{warden_port}", {"Authorization": f"Bearer {key}"}, prom_url
            )
            deadline = time.monotonic() + 60
            while not await _ready(http, peers.warden_url):
                if warden.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the warden did not start: see {log.name}")
                await asyncio.sleep(0.2)
            await asyncio.sleep(2 * PROBE_INTERVAL_S)  # every monitor UP, Prometheus scraping
            rng = random.Random(5)
            for round_no in range(args.rounds):
                fired = await _one_round(peers, targets, rng)
                for system, found in fired.items():
                    latencies[system].extend(found.values())
                p50 = {
                    s: statistics.median(f.values()) if f else math.nan for s, f in fired.items()
                }
                missing = {s: len(names) - len(f) for s, f in fired.items()}
                print(
                    f"    round {round_no + 1}: p50 warden {p50['warden']:.2f} s, prometheus "
                    f"{p50['prometheus']:.2f} s; not fired {missing}",
                    flush=True,
                )
    finally:
        warden.terminate()
        try:
            await asyncio.wait_for(asyncio.to_thread(warden.wait), 20)
        except TimeoutError:
            warden.kill()
        log.close()
        await runner.cleanup()
    return {
        "monitors": len(names),
        "rounds": args.rounds,
        "poll_s": 0.025,
        "warden": _summary(latencies["warden"]),
        "prometheus": _summary(latencies["prometheus"]),
    }


async def _ready(http: httpx.AsyncClient, url: str) -> bool:
    with contextlib.suppress(httpx.HTTPError):
        return (await http.get(f"{url}/health")).status_code == 200
    return False


# -- report -------------------------------------------------------------------------------


def _machine() -> dict[str, Any]:
    cpu = platform.processor() or "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    version = subprocess.run(
        [PROMETHEUS, "--version"], capture_output=True, text=True, check=False
    ).stdout.splitlines()[:1]
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cores": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "prometheus": version[0] if version else "unknown",
        "loadavg_1m_at_start": round(os.getloadavg()[0], 2),
    }


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke test")
    parser.add_argument("--families", type=int, default=FAMILIES, help="x 1,000 series, x 20 rules")
    parser.add_argument("--evaluations", type=int, default=3)
    parser.add_argument(
        "--prometheus-data",
        choices=["head", "blocks"],
        default="head",
        help="Prometheus's copy: scraped into its head, or written as blocks by promtool",
    )
    parser.add_argument("--long-series", type=int, default=1_000)
    parser.add_argument("--long-samples", type=int, default=1_440, help="per series (2 h at 5 s)")
    parser.add_argument("--scrape-series", type=int, default=50_000)
    parser.add_argument("--window", type=float, default=15.0, help="ingestion window, s")
    parser.add_argument("--monitors", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--only", choices=["rules", "bytes", "ingestion", "latency"], action="append"
    )
    parser.add_argument("--json", type=Path, help="also write the figures as JSON")
    args = parser.parse_args(argv)
    if args.quick:
        args.families, args.evaluations, args.scrape_series = 2, 2, 5_000
        args.long_series, args.long_samples = 100, 720
        args.window, args.monitors, args.rounds = 5.0, 5, 2
    return args


async def _main(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {"machine": _machine()}
    wanted = set(args.only or ["rules", "bytes", "ingestion", "latency"])
    with tempfile.TemporaryDirectory(prefix="tw-bench-engine-") as tmp:
        work = Path(tmp)
        if "rules" in wanted:
            results["rules"] = await bench_rules(args, work)
        if "bytes" in wanted:
            results["bytes"] = await asyncio.to_thread(bench_bytes, args, work)
        if "ingestion" in wanted:
            results["ingestion"] = await bench_ingestion(args, work)
        if "latency" in wanted:
            results["latency"] = await bench_latency(args, work)
    return results


def _report(results: dict[str, Any]) -> None:
    print("\n== bench/engine.py ==")
    print(f"machine: {results['machine']}")
    if "rules" in results:
        r = results["rules"]
        print(
            f"rule evaluation, {r['rules']} rules over {r['series']:,} series: warden "
            f"{r['warden_eval_median_s']:.3f} s, Prometheus {r['prometheus_eval_median_s']:.3f} s"
            f" -> ratio {r['eval_ratio']:.1f}x (target <= {BOUND_EVAL_RATIO:g}x)"
        )
        print(
            f"  (Prometheus's data in its {r['prometheus_data']}; {r['samples'] // r['series']} "
            f"samples a series: warden {r['warden_bytes_per_sample']:.1f} B/sample with the "
            "series' own overhead)"
        )
        print(f"store append: {r['warden_append_samples_per_s']:,.0f} samples/s")
    if "bytes" in results:
        b = results["bytes"]
        verdict = "met" if b["warden_bytes_per_sample"] <= BOUND_BYTES_PER_SAMPLE else "NOT met"
        print(
            f"bytes per sample ({b['series']:,} series x {b['samples_per_series']:,}): warden "
            f"{b['warden_bytes_per_sample']:.2f} B, Prometheus blocks "
            f"{b['prometheus_block_bytes_per_sample']:.2f} B -> ratio {b['ratio']:.1f}x; target "
            f"<= {BOUND_BYTES_PER_SAMPLE:g} B: {verdict}"
        )
    if "ingestion" in results:
        i = results["ingestion"]
        print(
            f"scrape ingestion ({i['series']:,} series/s): warden {i['warden_samples_per_s']:,.0f}"
            f" samples/s ({i['warden_samples_per_cpu_s']:,.0f} per CPU s), Prometheus "
            f"{i['prometheus_samples_per_s']:,.0f} ({i['prometheus_samples_per_cpu_s']:,.0f} per"
            f" CPU s) -> Prometheus does {i['per_cpu_ratio']:.1f}x more per CPU second"
        )
    if "latency" in results:
        lat = results["latency"]
        w, p = lat["warden"], lat["prometheus"]
        if w.get("n") and p.get("n"):
            verdict = "met" if w["p99_s"] < BOUND_LATENCY_P99_S else "NOT met"
            print(
                f"condition to firing ({w['n']} / {p['n']} alerts, 5 s probe): warden p50 "
                f"{w['p50_s']:.2f} s p99 {w['p99_s']:.2f} s max {w['max_s']:.2f} s; Prometheus "
                f"(5 s scrape + 5 s evaluation) p50 {p['p50_s']:.2f} s p99 {p['p99_s']:.2f} s -> "
                f"ratio p99 {w['p99_s'] / p['p99_s']:.2f}; target p99 < "
                f"{BOUND_LATENCY_P99_S:g} s: {verdict}"
            )


def main(argv: list[str] | None = None) -> int:
    for binary in (PROMETHEUS, PROMTOOL):
        if shutil.which(binary) is None:
            print(f"{binary} is missing (Debian package prometheus)", file=sys.stderr)
            return 2
    args = _parse_args(argv)
    results = asyncio.run(_main(args))
    _report(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
