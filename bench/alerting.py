"""Issue 6: from a target going down to the notification, tradewarden against Prometheus +
Alertmanager (Debian's packages), in the same run; the warden's own alert pipeline; ingest.

1. **Side by side**: one loopback HTTP server holds the targets; each starts answering 500
   at a random moment (a round: every target of the round fails at a random moment of one
   minute) and stays down. (a) ``tradewarden up`` probes each target every 5 s (an http
   monitor, its default failure policy and default rules: ``MonitorDown``, severity
   critical) and routes to an Apprise ``json://`` channel pointing at a loopback receiver;
   (b) Prometheus scrapes the same targets (``/metrics`` answering 500 when down, so
   ``up == 0``) with its defaults (scrape and evaluation every 1 m), sends to Alertmanager
   (defaults: group_wait 30 s, group_interval 5 m), whose webhook posts to the same
   receiver. Measured: failure -> first firing notification received, per target.
2. **Pipeline**: an alert POSTed to ``/api/v2/alerts`` (severity critical: a P0 route, no
   group wait) -> its notification received by the loopback receiver.
3. **Ingest**: 10,000 alerts a minute on a fixed schedule (latency from the scheduled send,
   so a stall counts), one alert a request and then 64 a request (Prometheus's batch size
   towards an Alertmanager); then every one looked up in ``GET /api/v2/alerts``.

    .venv/bin/python bench/alerting.py [--quick] [--json out.json]
    .venv/bin/python bench/alerting.py --only ingest --ingest-batch 1 --ingest-batch 64

``--only`` (repeatable: ``side``, ``pipeline``, ``ingest``) runs those sections alone;
Prometheus and Alertmanager are started only for ``side``.

Everything runs on 127.0.0.1; every process is stopped and the temp dir removed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from _loadgen import percentile

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
PROMETHEUS = "/usr/bin/prometheus"
ALERTMANAGER = "/usr/bin/prometheus-alertmanager"
_SCRUBBED_PREFIXES = ("TRADEWARDEN_", "OTEL_", "SENTRY_")
_SCRUBBED_NAMES = {"DATABASE_URL", "REDIS_URL"}

PROBE_INTERVAL_S = 5.0
ROUND_WINDOW_S = 60.0
BOUND_RATIO = 0.1
BOUND_PIPELINE_P99_MS = 100.0
BOUND_INGEST_P99_MS = 20.0
SECTIONS = ("side", "pipeline", "ingest")


# -- helpers ----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(_SCRUBBED_PREFIXES) and k not in _SCRUBBED_NAMES
    }
    return {**env, **extra}


def _yaml(document: Any) -> str:
    # JSON is YAML: no YAML writer needed for the configs.
    return json.dumps(document, indent=1)


def _summary_s(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    if not ordered:
        return {"n": 0}
    return {
        "n": len(ordered),
        "p50": percentile(ordered, 0.5),
        "p99": percentile(ordered, 0.99),
        "max": ordered[-1],
    }


async def _wait_ready(
    session: aiohttp.ClientSession, url: str, process: subprocess.Popen[bytes], name: str
) -> None:
    deadline = time.monotonic() + 120
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited (code {process.returncode})")
        with contextlib.suppress(aiohttp.ClientError, TimeoutError):
            async with session.get(url) as response:
                if response.status == 200:
                    return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{name} not ready in 120 s")
        await asyncio.sleep(0.2)


@contextlib.asynccontextmanager
async def _process(
    command: list[str], work: Path, name: str, *, env: dict[str, str] | None = None
) -> AsyncIterator[subprocess.Popen[bytes]]:
    """Run ``command`` with its output in ``work/name.log``; stop it at the end."""
    log = (work / f"{name}.log").open("wb")
    process = subprocess.Popen(  # noqa: ASYNC220 - a start, not a wait; the wait is threaded
        command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        yield process
    finally:
        process.terminate()
        try:
            await asyncio.wait_for(asyncio.to_thread(process.wait), 30)
        except TimeoutError:
            process.kill()
            await asyncio.to_thread(process.wait)
        log.close()


# -- the loopback target and receiver ---------------------------------------------------


@dataclass
class _Targets:
    """Every target's health; a down one answers 500 to the probe and to the scrape."""

    healthy: dict[str, bool]

    async def check(self, request: web.Request) -> web.Response:
        ok = self.healthy.get(request.match_info["name"], False)
        return web.Response(status=200 if ok else 500, text="ok" if ok else "down")

    async def metrics(self, request: web.Request) -> web.Response:
        if not self.healthy.get(request.match_info["name"], False):
            return web.Response(status=500, text="down")
        body = "# TYPE bench_target_ok gauge\nbench_target_ok 1\n"
        return web.Response(text=body, content_type="text/plain")


@dataclass
class _Receiver:
    """The local receiver: first firing arrival per target, per system; pipeline arrivals."""

    targets: list[str]
    fired: dict[str, dict[str, float]] = field(
        default_factory=lambda: {"warden": {}, "prometheus": {}}
    )
    pipeline: dict[str, asyncio.Future[float]] = field(default_factory=dict)
    posts: dict[str, int] = field(default_factory=lambda: {"warden": 0, "am": 0, "pipe": 0})

    async def warden(self, request: web.Request) -> web.Response:
        stamp = time.monotonic()
        body = await request.json()
        self.posts["warden"] += 1
        title = str(body.get("title", ""))
        text = f"{title}\n{body.get('message', '')}"
        if "RESOLVED" not in title:
            for name in self.targets:
                if f"Monitor {name} is DOWN" in text:
                    self.fired["warden"].setdefault(name, stamp)
        return web.Response(text="ok")

    async def alertmanager(self, request: web.Request) -> web.Response:
        stamp = time.monotonic()
        body = await request.json()
        self.posts["am"] += 1
        for alert in body.get("alerts", []):
            name = alert.get("labels", {}).get("target")
            if alert.get("status") == "firing" and name in self.targets:
                self.fired["prometheus"].setdefault(name, stamp)
        return web.Response(text="ok")

    async def pipe(self, request: web.Request) -> web.Response:
        stamp = time.monotonic()
        body = await request.json()
        self.posts["pipe"] += 1
        waiter = self.pipeline.get(str(body.get("title", "")).strip())
        if waiter is not None and not waiter.done():
            waiter.set_result(stamp)
        return web.Response(text="ok")


async def _serve(app: web.Application) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = _free_port()
    await web.TCPSite(runner, HOST, port).start()
    return runner, port


# -- configs ----------------------------------------------------------------------------


def _warden_config(names: list[str], target_port: int, warden_port: int) -> dict[str, Any]:
    """The warden's defaults, plus the monitors (every 5 s) and the loopback channels."""
    return {
        "server": {"host": HOST, "port": warden_port},
        "monitors": [
            {
                "name": name,
                "kind": "http",
                "url": f"http://{HOST}:{target_port}/check/{name}",
                "interval_s": PROBE_INTERVAL_S,
            }
            for name in names
        ],
        "channels": [
            {"type": "apprise", "name": "hook", "url_env": "TW_BENCH_HOOK_URL"},
            {
                "type": "apprise",
                "name": "pipe",
                "url_env": "TW_BENCH_PIPE_URL",
                "templates": {"title": "{{ labels.get('bench_id', '') }}"},
            },
        ],
        "receivers": [
            {"name": "hook", "channels": ["hook"]},
            {"name": "pipe", "channels": ["pipe"]},
            {"name": "sink", "channels": []},
        ],
        "route": {
            "receiver": "hook",
            "group_by": ["alertname", "monitor"],
            "routes": [
                {
                    "matchers": ['alertname="BenchPipeline"'],
                    "receiver": "pipe",
                    "group_by": ["bench_id"],
                },
                {"matchers": ['alertname="BenchIngest"'], "receiver": "sink"},
            ],
        },
    }


def _prometheus_files(
    work: Path, names: list[str], target_port: int, am_port: int, receiver_port: int
) -> tuple[Path, Path]:
    """Prometheus and Alertmanager configs: their default intervals and timers."""
    rules = work / "rules.yml"
    rule = {"alert": "TargetDown", "expr": 'up{job="targets"} == 0'}
    rules.write_text(_yaml({"groups": [{"name": "bench", "rules": [rule]}]}), "utf-8")
    statics = [
        {
            "targets": [f"{HOST}:{target_port}"],
            "labels": {"__metrics_path__": f"/metrics/{name}", "target": name},
        }
        for name in names
    ]
    prometheus = work / "prometheus.yml"
    prometheus.write_text(
        _yaml(
            {
                "rule_files": [str(rules)],
                "alerting": {
                    "alertmanagers": [{"static_configs": [{"targets": [f"{HOST}:{am_port}"]}]}]
                },
                "scrape_configs": [{"job_name": "targets", "static_configs": statics}],
            }
        ),
        "utf-8",
    )
    alertmanager = work / "alertmanager.yml"
    hook = {"url": f"http://{HOST}:{receiver_port}/alertmanager", "send_resolved": True}
    alertmanager.write_text(
        _yaml(
            {
                # One group per target, as the warden's routes: group_wait etc. are defaults.
                "route": {"receiver": "hook", "group_by": ["alertname", "target"]},
                "receivers": [{"name": "hook", "webhook_configs": [hook]}],
            }
        ),
        "utf-8",
    )
    return prometheus, alertmanager


def _create_key(config: Path, env: dict[str, str]) -> str:
    done = subprocess.run(
        [
            *(sys.executable, "-m", "tradewarden", "apikey", "create", "bench"),
            *("--role", "operator", "--config", str(config)),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return done.stdout.strip().splitlines()[-1].strip()


# -- 2. pipeline and 3. ingest ---------------------------------------------------------


def _alert(labels: dict[str, str]) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "labels": labels,
        "annotations": {"summary": "bench"},
        "startsAt": now.isoformat(),
        "endsAt": (now + timedelta(hours=1)).isoformat(),
    }


async def bench_pipeline(
    session: aiohttp.ClientSession, url: str, receiver: _Receiver, count: int
) -> dict[str, Any]:
    """POST one P0 alert at a time; time each until its notification is received."""
    latencies: list[float] = []
    lost = 0
    loop = asyncio.get_running_loop()
    for n in range(count + 5):  # the first five warm up
        bench_id = f"p{n}"
        waiter: asyncio.Future[float] = loop.create_future()
        receiver.pipeline[bench_id] = waiter
        body = [
            _alert({"alertname": "BenchPipeline", "severity": "critical", "bench_id": bench_id})
        ]
        began = time.monotonic()
        async with session.post(f"{url}/api/v2/alerts", json=body) as response:
            if response.status != 200:
                raise RuntimeError(
                    f"POST /api/v2/alerts: {response.status} {await response.text()}"
                )
        try:
            arrived = await asyncio.wait_for(waiter, 10)
        except TimeoutError:
            lost += 1
            continue
        if n >= 5:
            latencies.append((arrived - began) * 1000)
        await asyncio.sleep(0.02)
    return {"alerts": count, "lost": lost, "ms": _summary_s(latencies)}


async def bench_ingest(
    session: aiohttp.ClientSession, url: str, per_minute: int, duration_s: float, batch: int
) -> dict[str, Any]:
    """``batch`` alerts per request on a fixed schedule; then every alert looked up."""
    requests = round(per_minute * duration_s / 60 / batch)
    total = requests * batch
    interval = 60.0 / per_minute * batch
    run = f"b{batch}"
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    accepted: set[str] = set()

    def labels(i: int) -> dict[str, str]:
        return {"alertname": "BenchIngest", "severity": "warning", "run": run, "id": f"i{i}"}

    # Every body is encoded before the clock starts: building and encoding 64 alerts is the
    # client's work, not the warden's latency.
    bodies = [
        json.dumps([_alert(labels(i)) for i in range(n * batch, (n + 1) * batch)]).encode()
        for n in range(requests)
    ]
    json_type = {"Content-Type": "application/json"}

    async def send(n: int, scheduled: float) -> None:
        ids = range(n * batch, (n + 1) * batch)
        try:
            async with session.post(
                f"{url}/api/v2/alerts", data=bodies[n], headers=json_type
            ) as response:
                await response.read()
                status = response.status
        except (aiohttp.ClientError, TimeoutError):
            status = 0
        latencies.append((time.monotonic() - scheduled) * 1000)
        statuses[status] = statuses.get(status, 0) + 1
        if status == 200:
            accepted.update(f"i{i}" for i in ids)

    start = time.monotonic() + 0.1
    tasks = []
    for n in range(requests):
        scheduled = start + n * interval
        delay = scheduled - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(send(n, scheduled)))
    await asyncio.gather(*tasks)
    elapsed = time.monotonic() - start
    params = [("filter", 'alertname="BenchIngest"'), ("filter", f'run="{run}"')]
    async with session.get(f"{url}/api/v2/alerts", params=params) as response:
        listed = {a["labels"].get("id") for a in await response.json()}
    return {
        "alerts": total,
        "batch": batch,
        "requests": requests,
        "per_minute_achieved": total / elapsed * 60,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "ms": _summary_s(latencies),
        # Lost: not listed afterwards, whether its POST failed or it vanished later.
        "lost": total - len(listed & {f"i{n}" for n in range(total)}),
        "listed": len(listed & accepted),
    }


# -- 1. side by side -------------------------------------------------------------------


async def bench_side_by_side(
    targets: _Targets, receiver: _Receiver, names: list[str], rounds: int, seed: int
) -> dict[str, Any]:
    """Fail each round's targets at random moments of its minute; wait for both systems."""
    rng = random.Random(seed)
    per_round = len(names) // rounds
    flips = {
        name: (i // per_round) * ROUND_WINDOW_S + rng.uniform(0, ROUND_WINDOW_S)
        for i, name in enumerate(names)
    }
    began = time.monotonic()
    failed_at: dict[str, float] = {}
    deadline = began + rounds * ROUND_WINDOW_S + 300
    last_print = began
    while time.monotonic() < deadline:
        now = time.monotonic()
        for name, offset in flips.items():
            if name not in failed_at and now - began >= offset:
                targets.healthy[name] = False
                failed_at[name] = time.monotonic()
        if len(failed_at) == len(names) and all(
            len(found) == len(names) for found in receiver.fired.values()
        ):
            break
        if now - last_print > 30:
            last_print = now
            print(
                f"    {now - began:5.0f} s: {len(failed_at)} failed, notified: warden "
                f"{len(receiver.fired['warden'])}, prometheus {len(receiver.fired['prometheus'])}",
                flush=True,
            )
        await asyncio.sleep(0.01)
    out: dict[str, Any] = {"targets": len(names), "rounds": rounds}
    for system, found in receiver.fired.items():
        values = [found[n] - failed_at[n] for n in names if n in found and n in failed_at]
        out[system] = {**_summary_s(values), "missing": len(names) - len(values)}
    return out


# -- main -------------------------------------------------------------------------------


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds, shorter ingest")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--targets-per-round", type=int, default=8)
    parser.add_argument("--pipeline-alerts", type=int, default=200)
    parser.add_argument("--ingest-per-minute", type=int, default=10_000)
    parser.add_argument("--ingest-s", type=float, default=60.0)
    parser.add_argument(
        "--ingest-batch",
        type=int,
        action="append",
        help="alerts a request (repeatable; default 1 and 64, Prometheus's batch size)",
    )
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument(
        "--only",
        choices=SECTIONS,
        action="append",
        help="run only this section (repeatable; default every one)",
    )
    parser.add_argument("--json", type=Path, help="also write the figures as JSON")
    args = parser.parse_args(argv)
    args.ingest_batch = args.ingest_batch or [1, 64]
    args.only = set(args.only or SECTIONS)
    if args.quick:
        args.rounds, args.targets_per_round = 1, 4
        args.pipeline_alerts, args.ingest_s = 50, 15.0
    return args


async def _main(args: argparse.Namespace) -> dict[str, Any]:
    names = [f"m{r}x{t:02d}" for r in range(args.rounds) for t in range(args.targets_per_round)]
    results: dict[str, Any] = {
        "machine": {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "cores": os.cpu_count(),
            "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
        }
    }
    targets = _Targets(dict.fromkeys(names, True))
    receiver = _Receiver(names)
    target_app = web.Application()
    target_app.router.add_get("/check/{name}", targets.check)
    target_app.router.add_get("/metrics/{name}", targets.metrics)
    receiver_app = web.Application()
    receiver_app.router.add_post("/warden", receiver.warden)
    receiver_app.router.add_post("/pipe", receiver.pipe)
    receiver_app.router.add_post("/alertmanager", receiver.alertmanager)
    target_runner, target_port = await _serve(target_app)
    receiver_runner, receiver_port = await _serve(receiver_app)
    warden_port, prom_port, am_port = _free_port(), _free_port(), _free_port()
    warden_url = f"http://{HOST}:{warden_port}"
    try:
        with tempfile.TemporaryDirectory(prefix="tw-bench-alerting-") as tmp:
            work = Path(tmp)
            config = work / "tradewarden.yaml"
            config.write_text(_yaml(_warden_config(names, target_port, warden_port)), "utf-8")
            env = _env(
                TRADEWARDEN_DATA_DIR=str(work / "warden"),
                TRADEWARDEN_LOG_LEVEL="WARNING",
                TW_BENCH_HOOK_URL=f"json://{HOST}:{receiver_port}/warden",
                TW_BENCH_PIPE_URL=f"json://{HOST}:{receiver_port}/pipe",
            )
            key = await asyncio.to_thread(_create_key, config, env)
            prom_config, am_config = _prometheus_files(
                work, names, target_port, am_port, receiver_port
            )
            warden_cmd = [sys.executable, "-m", "tradewarden", "up", "--config", str(config)]
            prom_cmd = [
                PROMETHEUS,
                f"--config.file={prom_config}",
                f"--storage.tsdb.path={work / 'prometheus'}",
                f"--web.listen-address={HOST}:{prom_port}",
                "--log.level=warn",
            ]
            am_cmd = [
                ALERTMANAGER,
                f"--config.file={am_config}",
                f"--storage.path={work / 'alertmanager'}",
                f"--web.listen-address={HOST}:{am_port}",
                "--cluster.listen-address=",  # a single instance: no gossip port
                "--log.level=warn",
            ]
            headers = {"Authorization": f"Bearer {key}"}
            side = "side" in args.only
            async with contextlib.AsyncExitStack() as stack:
                warden = await stack.enter_async_context(
                    _process(warden_cmd, work, "warden", env=env)
                )
                daemons = []
                if side:
                    daemons = [
                        (
                            await stack.enter_async_context(_process(am_cmd, work, "alertmanager")),
                            f"http://{HOST}:{am_port}/-/ready",
                            "alertmanager",
                        ),
                        (
                            await stack.enter_async_context(_process(prom_cmd, work, "prometheus")),
                            f"http://{HOST}:{prom_port}/-/ready",
                            "prometheus",
                        ),
                    ]
                session = await stack.enter_async_context(
                    aiohttp.ClientSession(
                        headers=headers,
                        timeout=aiohttp.ClientTimeout(total=10),
                        connector=aiohttp.TCPConnector(limit=32),
                    )
                )
                await _wait_ready(session, f"{warden_url}/health", warden, "the warden")
                for process, ready_url, name in daemons:
                    await _wait_ready(session, ready_url, process, name)
                if "pipeline" in args.only:
                    print(
                        f"[2] pipeline: {args.pipeline_alerts} P0 alerts, POST -> received",
                        flush=True,
                    )
                    results["pipeline"] = await bench_pipeline(
                        session, warden_url, receiver, args.pipeline_alerts
                    )
                if "ingest" in args.only:
                    results["ingest"] = []
                    for batch in args.ingest_batch:
                        print(
                            f"[3] ingest: {args.ingest_per_minute:,} alerts/min for "
                            f"{args.ingest_s:g} s, {batch} a request",
                            flush=True,
                        )
                        results["ingest"].append(
                            await bench_ingest(
                                session, warden_url, args.ingest_per_minute, args.ingest_s, batch
                            )
                        )
                if side:
                    print(
                        f"[1] side by side: {args.rounds} rounds x {args.targets_per_round} "
                        "targets",
                        flush=True,
                    )
                    results["side_by_side"] = await bench_side_by_side(
                        targets, receiver, names, args.rounds, args.seed
                    )
                results["receiver_posts"] = dict(receiver.posts)
    finally:
        await target_runner.cleanup()
        await receiver_runner.cleanup()
    results["machine"]["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    return results


def _verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def _report(results: dict[str, Any]) -> None:
    print("\n== bench/alerting.py ==")
    print(f"machine: {results['machine']}")
    if "side_by_side" in results:
        _report_side(results["side_by_side"])
    pipe = results.get("pipeline")
    if pipe and pipe["ms"].get("n"):
        print(
            f"pipeline POST -> notification received ({pipe['alerts']} alerts, lost "
            f"{pipe['lost']}): p50 {pipe['ms']['p50']:.1f} ms p99 {pipe['ms']['p99']:.1f} ms max "
            f"{pipe['ms']['max']:.1f} ms; target p99 < {BOUND_PIPELINE_P99_MS:g} ms: "
            f"{_verdict(pipe['ms']['p99'] < BOUND_PIPELINE_P99_MS and not pipe['lost'])}"
        )
    for ing in results.get("ingest", []):
        _report_ingest(ing)


def _report_side(side: dict[str, Any]) -> None:
    w, p = side["warden"], side["prometheus"]
    for label, s in (("tradewarden", w), ("prometheus+alertmanager", p)):
        if s.get("n"):
            print(
                f"target down -> notification, {label}: n {s['n']} (missing {s['missing']}) "
                f"p50 {s['p50']:.2f} s p99 {s['p99']:.2f} s max {s['max']:.2f} s"
            )
        else:
            print(f"target down -> notification, {label}: nothing received")
    if w.get("n") and p.get("n"):
        ratio50, ratio99 = w["p50"] / p["p50"], w["p99"] / p["p99"]
        print(
            f"  ratio tradewarden / prometheus: p50 {ratio50:.3f}, p99 {ratio99:.3f}, max "
            f"{w['max'] / p['max']:.3f}; target <= {BOUND_RATIO:g}: "
            f"{_verdict(ratio50 <= BOUND_RATIO and ratio99 <= BOUND_RATIO)}"
        )


def _report_ingest(ing: dict[str, Any]) -> None:
    print(
        f"ingest {ing['alerts']:,} alerts, {ing['batch']} a request, at "
        f"{ing['per_minute_achieved']:,.0f}/min: statuses "
        f"{ing['statuses']}, p50 {ing['ms']['p50']:.1f} ms p99 {ing['ms']['p99']:.1f} ms max "
        f"{ing['ms']['max']:.1f} ms; listed {ing['listed']:,}, lost {ing['lost']}; target p99 < "
        f"{BOUND_INGEST_P99_MS:g} ms and zero lost: "
        f"{_verdict(ing['ms']['p99'] < BOUND_INGEST_P99_MS and not ing['lost'])}"
    )


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print the figures (and write them as JSON with ``--json``)."""
    args = _parse_args(argv)
    for binary in (PROMETHEUS, ALERTMANAGER) if "side" in args.only else ():
        if shutil.which(binary) is None:
            print(f"{binary} is missing (Debian packages prometheus, prometheus-alertmanager)")
            return 2
    results = asyncio.run(_main(args))
    _report(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
