"""The probe scheduler at scale: N HTTP monitors against loopback targets, on one core.

Target (from the issue): 10,000 HTTP monitors at a 30 s interval on one core, with schedule
drift p99 under 1 s, warden CPU under 50 % of that core, and zero false DOWN; and the largest
monitor count that still meets those bounds.

Each trial runs in its own process pinned to one CPU: the real ``Scheduler`` with the real
``StoreFlipRecorder`` (a fresh SQLite file, migrated) and the real ``ProbeMetrics`` sink,
one shared aiohttp session sized like the warden's, on uvloop as ``tradewarden up``
runs it. The targets (bench/_probe_targets.py) answer 200 on several ports, pinned to the
other CPU. The named peer, measured in the same run at the same N, is the naive design many
tools use (Uptime Kuma chains one setTimeout per monitor): one asyncio task per monitor
doing ``while True: await check(); await asyncio.sleep(interval)``, with the same probe,
state decision, flip store, sink and client.

    .venv/bin/python bench/probes.py [--monitors 10000] [--quick] [--json out.json]

Everything runs on 127.0.0.1 and stops by itself; the targets are terminated on exit.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import json
import logging
import math
import os
import platform
import pstats
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from _loadgen import percentile

HOST = "127.0.0.1"
ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
TARGET_MONITORS = 10_000
TARGET_INTERVAL_S = 30.0
BOUND_DRIFT_P99_S = 1.0
BOUND_CPU_PCT = 50.0
# Not in the list, but implied by "10,000 monitors at 30 s": a scheduler that keeps
# its drift low by skipping checks has not met the target.
BOUND_CHECKS_RATIO = 0.99
_RESULT_PREFIX = "TRIAL-RESULT "
logger = logging.getLogger("bench.probes")


@dataclass(frozen=True)
class TrialConfig:
    """One trial: a scheduler design, a monitor count and the timing."""

    scheduler: str  # "tradewarden" or "naive"
    monitors: int
    interval_s: float
    warmup_s: float
    window_s: float
    ports: tuple[int, ...]
    cpu: int | None
    max_concurrency: int
    profile: str | None = None
    data_dir: str | None = None  # the SQLite file goes here (default: a temporary directory)


# -- the trial (runs in its own process) ----------------------------------------------------


class _CountingSink:
    """Delegate to the real sink, counting results (and failures) as they pass."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.checks = 0
        self.failures = 0
        self.failure_examples: list[str] = []

    def publish(self, spec: Any, result: Any, state: str, at: float) -> None:
        self.checks += 1
        if not result.success:
            self.failures += 1
            if len(self.failure_examples) < 3:
                self.failure_examples.append(f"{spec.name}: {result.error}")
        self._inner.publish(spec, result, state, at)

    def forget(self, name: str) -> None:
        self._inner.forget(name)


class _CountingFlips:
    """Delegate to the real recorder, counting flips by their new state."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.by_state: Counter[str] = Counter()

    async def record(self, flip: Any) -> None:
        await self._inner.record(flip)
        self.by_state[flip.new] += 1

    async def latest_states(self) -> dict[str, Any]:
        result: dict[str, Any] = await self._inner.latest_states()
        return result


class _Naive:
    """The peer: one task per monitor, ``while True: check; sleep(interval)``.

    Same work per check as the scheduler (the probe under its timeout, ``decide``, the flip
    stored before the state changes, the result published), none of its scheduling: no
    dispatcher, no concurrency limit, and the next run is "finished + interval".
    """

    def __init__(
        self, *, clock: Any, flips: Any, sink: Any, http: Any, web: Any, history: int
    ) -> None:
        self._clock, self._flips, self._sink, self._http = clock, flips, sink, http
        self._web = web
        self._history = history
        self._tasks: list[asyncio.Task[None]] = []
        self._states: dict[str, str] = {}
        self.schedule_delays: deque[float] = deque()

    async def start(self, specs: Iterable[Any]) -> None:
        from tradewarden.probes._scheduler import first_offset

        await self._flips.latest_states()
        origin = self._clock.monotonic()
        for spec in specs:
            self._states[spec.name] = "PENDING"
            first_due = origin + first_offset(spec.name, spec.interval_s)  # the same spread
            self._tasks.append(asyncio.create_task(self._monitor(spec, first_due)))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def states(self) -> list[str]:
        return list(self._states.values())

    async def _monitor(self, spec: Any, first_due: float) -> None:
        from tradewarden.probes import Flip, ProbeContext, decide

        probe = spec.build()
        context = ProbeContext(
            clock=self._clock, timeout_s=spec.timeout_s, http=self._http, web=self._web
        )
        outcomes: deque[bool] = deque(maxlen=self._history)
        await asyncio.sleep(max(0.0, first_due - self._clock.monotonic()))
        runs = 0
        while True:
            # Drift from the monitor's nominal phase, as the scheduler measures it.
            due = first_due + runs * spec.interval_s
            self.schedule_delays.append(max(0.0, self._clock.monotonic() - due))
            runs += 1
            result = await _check(probe, context, spec.timeout_s)
            outcomes.append(result.success)
            state = self._states[spec.name]
            decision = decide(state, list(outcomes), result, spec.failure)
            if decision.state != state:
                flip = Flip(spec.name, state, decision.state, decision.reason, self._clock.now())
                try:
                    await self._flips.record(flip)
                except Exception:  # as the scheduler: keep the old state, retry on the next
                    logger.exception("could not store the flip of %s", spec.name)
                else:
                    self._states[spec.name] = state = decision.state
            self._sink.publish(spec, result, state, self._clock.now())
            await asyncio.sleep(spec.interval_s)


async def _check(probe: Any, context: Any, timeout_s: float) -> Any:
    from tradewarden.probes import ProbeResult

    try:
        async with asyncio.timeout(timeout_s):
            return await probe.run(context)
    except TimeoutError:
        return ProbeResult.failure(f"timed out after {timeout_s:g} s")
    except Exception as exc:  # noqa: BLE001 - a broken probe is a failed check
        return ProbeResult.failure(f"probe error: {type(exc).__name__}: {exc}")


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)  # every thread: aiosqlite's included
    return usage.ru_utime + usage.ru_stime


def _core_jiffies(cpu: int | None) -> tuple[int, int] | None:
    """Return (busy, steal) clock ticks of ``cpu`` since boot, from /proc/stat."""
    if cpu is None:
        return None
    with contextlib.suppress(OSError):
        for line in Path("/proc/stat").read_text().splitlines():
            if line.startswith(f"cpu{cpu} "):
                user, nice, system, _idle, _iowait, irq, softirq, steal = map(
                    int, line.split()[1:9]
                )
                return user + nice + system + irq + softirq, steal
    return None


def _memory_mib() -> tuple[float, float]:
    """Return the resident and peak resident memory of this process, MiB."""
    fields: dict[str, float] = {}
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in {"VmRSS", "VmHWM"}:
                fields[name] = int(value.split()[0]) / 1024
    return fields.get("VmRSS", float("nan")), fields.get("VmHWM", float("nan"))


def _quantiles_ms(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "p50_ms": percentile(ordered, 0.50) * 1000,
        "p99_ms": percentile(ordered, 0.99) * 1000,
        "max_ms": (ordered[-1] if ordered else float("nan")) * 1000,
    }


async def _loop_lag(samples: list[float], period_s: float = 0.1) -> None:
    """Record how late a ``period_s`` sleep wakes up: the event loop's own backlog."""
    while True:
        before = time.monotonic()
        await asyncio.sleep(period_s)
        samples.append(time.monotonic() - before - period_s)


def _pool_size(session: Any) -> int:
    """Return how many connections the session's pool holds, busy and idle (aiohttp
    internals; -1 if unknown)."""
    connector = getattr(session, "connector", None)
    acquired = getattr(connector, "_acquired", None)
    idle = getattr(connector, "_conns", None)
    if acquired is None or idle is None:
        return -1
    return len(acquired) + sum(len(connections) for connections in idle.values())


def _drain(delays: deque[float]) -> list[float]:
    """Take everything from ``delays``; popleft is safe against the loop thread's appends."""
    taken = []
    with contextlib.suppress(IndexError):
        while True:
            taken.append(delays.popleft())
    return taken


@dataclass
class _Window:
    """What was measured over the window (the warm-up excluded)."""

    wall_s: float
    cpu_s: float
    warmup_cpu_pct: float
    core_busy_s: float | None
    core_steal_s: float | None
    involuntary_switches: int
    checks: int
    failures: int
    delays: list[float]
    lags: list[float]
    pool_sizes: list[int]


def _measure(
    config: TrialConfig,
    runner: Any,
    sink: _CountingSink,
    client: Any,
    *,
    lags: list[float],
    since: tuple[float, float],
    on_window: Callable[[bool], None],
) -> _Window:
    """Wait out the warm-up, then measure one window; ``since``: (CPU s, wall s) at start.

    ``on_window`` is called with True as the window opens and with False as it closes.

    Runs in a thread of its own: an overloaded event loop would stretch both periods, and
    the naive peer's, past its saturation point, would not end them for minutes.
    """
    cpu_start, started = since
    time.sleep(max(0.0, started + config.warmup_s - time.monotonic()))
    _drain(runner.schedule_delays)
    lags.clear()
    checks, failures = sink.checks, sink.failures
    cpu_0, wall_0, core_0 = _cpu_s(), time.monotonic(), _core_jiffies(config.cpu)
    switches = resource.getrusage(resource.RUSAGE_SELF).ru_nivcsw
    on_window(True)
    delays: list[float] = []
    pool_sizes: list[int] = []
    end = wall_0 + config.window_s
    while (now := time.monotonic()) < end:
        time.sleep(min(0.5, end - now))
        delays += _drain(runner.schedule_delays)
        pool_sizes.append(_pool_size(client))
    cpu_1, wall_1, core_1 = _cpu_s(), time.monotonic(), _core_jiffies(config.cpu)
    on_window(False)
    delays += _drain(runner.schedule_delays)
    tick = os.sysconf("SC_CLK_TCK")
    return _Window(
        wall_s=wall_1 - wall_0,
        cpu_s=cpu_1 - cpu_0,
        warmup_cpu_pct=(cpu_0 - cpu_start) / (wall_0 - started) * 100,
        core_busy_s=(core_1[0] - core_0[0]) / tick if core_0 and core_1 else None,
        core_steal_s=(core_1[1] - core_0[1]) / tick if core_0 and core_1 else None,
        involuntary_switches=resource.getrusage(resource.RUSAGE_SELF).ru_nivcsw - switches,
        checks=sink.checks - checks,
        failures=sink.failures - failures,
        delays=delays,
        lags=list(lags),
        pool_sizes=pool_sizes,
    )


def _scrape(registry: Any) -> dict[str, float]:
    """Return what one Prometheus scrape of every monitor costs (this thread's CPU)."""
    from prometheus_client import generate_latest

    for _ in range(3):
        # The loop thread may add a monitor's first result mid-scrape: then try again.
        with contextlib.suppress(RuntimeError):
            started = time.thread_time()
            size = len(generate_latest(registry))
            return {"scrape_bytes": size, "scrape_ms": (time.thread_time() - started) * 1000}
    return {}


def _specs(config: TrialConfig) -> list[Any]:
    from tradewarden.probes.kinds import HttpSpec

    return [
        HttpSpec(
            name=f"m{index:06d}",
            url=f"http://{HOST}:{config.ports[index % len(config.ports)]}/m/{index}",
            interval_s=config.interval_s,
            timeout_s=min(10.0, config.interval_s),
        )
        for index in range(config.monitors)
    ]


def _summary(
    config: TrialConfig, window: _Window, sink: _CountingSink, flips: _CountingFlips, runner: Any
) -> dict[str, Any]:
    from tradewarden.probes import Scheduler

    if isinstance(runner, Scheduler):
        statuses = runner.all()
        states = Counter(status.state for status in statuses)
        overlaps = sum(status.overlaps_skipped for status in statuses)
    else:
        states, overlaps = Counter(runner.states()), 0
    wall = window.wall_s
    cpu_pct = window.cpu_s / wall * 100
    rss_mib, peak_rss_mib = _memory_mib()
    expected_per_s = config.monitors / config.interval_s
    busy, steal = window.core_busy_s, window.core_steal_s
    return {
        **asdict(config),
        "measured_s": wall,
        "checks": window.checks,
        "checks_started": len(window.delays),
        "checks_per_s": window.checks / wall,
        "expected_per_s": expected_per_s,
        "checks_ratio": window.checks / (expected_per_s * wall),
        **{f"drift_{key}": value for key, value in _quantiles_ms(window.delays).items()},
        **{f"loop_lag_{key}": value for key, value in _quantiles_ms(window.lags).items()},
        "cpu_pct": cpu_pct,
        "warmup_cpu_pct": window.warmup_cpu_pct,
        "core_other_pct": float("nan") if busy is None else max(0.0, busy / wall * 100 - cpu_pct),
        "core_steal_pct": float("nan") if steal is None else steal / wall * 100,
        "involuntary_switches_per_s": window.involuntary_switches / wall,
        "rss_mib": rss_mib,
        "peak_rss_mib": peak_rss_mib,
        "failed_checks": window.failures,
        "failure_examples": sink.failure_examples,
        "flips": dict(flips.by_state),
        "down_flips": flips.by_state["DOWN"],
        "states_at_end": dict(states),
        "not_up_at_end": config.monitors - states["UP"],
        "overlaps_skipped": overlaps,
        "pool_connections_mean": sum(window.pool_sizes) / max(1, len(window.pool_sizes)),
        "pool_connections_max": max(window.pool_sizes, default=0),
    }


async def _trial(
    config: TrialConfig,
    data_dir: Path,
    emit: Callable[[dict[str, Any]], None],
    profiler: cProfile.Profile | None = None,
) -> None:
    """Run one trial and ``emit`` its result, then tear down (which may be slow: see below).

    A ``profiler`` runs over the measured window only, on the event loop's thread.
    """
    import httpx
    from prometheus_client import CollectorRegistry

    from tradewarden.clock import SystemClock
    from tradewarden.probes import ProbeMetrics, Scheduler, StoreFlipRecorder, new_web_session
    from tradewarden.store import Database, upgrade

    database = Database(f"sqlite:///{data_dir}/probes.sqlite")
    await upgrade(database)
    registry = CollectorRegistry()
    sink = _CountingSink(ProbeMetrics(registry))
    flips = _CountingFlips(StoreFlipRecorder(database))
    # As the runtime builds them: one aiohttp session for every HTTP monitor, and the
    # httpx client of the other kinds (unused here).
    client = new_web_session(config.max_concurrency)
    http = httpx.AsyncClient()
    clock = SystemClock()
    runner: Any
    if config.scheduler == "naive":
        runner = _Naive(clock=clock, flips=flips, sink=sink, http=http, web=client, history=100)
    else:
        runner = Scheduler(
            clock=clock,
            flips=flips,
            sink=sink,
            http=http,
            web=client,
            max_concurrency=config.max_concurrency,
            history_size=100,
        )
    loop = asyncio.get_running_loop()
    done = asyncio.Event()
    lags: list[float] = []
    lag_task = asyncio.create_task(_loop_lag(lags))

    def on_window(opening: bool) -> None:
        if profiler is not None:
            loop.call_soon_threadsafe(profiler.enable if opening else profiler.disable)

    def measure(since: tuple[float, float]) -> None:
        try:
            window = _measure(
                config, runner, sink, client, lags=lags, since=since, on_window=on_window
            )
            result = _summary(config, window, sink, flips, runner)
            # Before tearing down: an overloaded run can take minutes to cancel its checks,
            # and the bench then gives up on the teardown, not on the numbers.
            emit({**result, **_scrape(registry)})
        finally:
            loop.call_soon_threadsafe(done.set)

    try:
        since = _cpu_s(), time.monotonic()
        await runner.start(_specs(config))
        threading.Thread(target=measure, args=(since,), name="bench-measure", daemon=True).start()
        await done.wait()
        if profiler is not None and config.profile:
            profiler.dump_stats(config.profile)
    finally:
        lag_task.cancel()
        await runner.stop()
        await client.close()
        await http.aclose()
        await database.dispose()


def _trial_main(raw: str) -> int:
    fields = json.loads(raw)
    config = TrialConfig(**{**fields, "ports": tuple(fields["ports"])})
    if config.cpu is not None:
        # Before any thread exists: threads (aiosqlite's) inherit the pinning.
        os.sched_setaffinity(0, {config.cpu})
    try:
        import uvloop

        factory: Callable[[], asyncio.AbstractEventLoop] | None = uvloop.new_event_loop
    except ImportError:
        factory = None
    profiler = cProfile.Profile() if config.profile else None

    def emit(result: dict[str, Any]) -> None:
        print(_RESULT_PREFIX + json.dumps(_finite(result)), flush=True)

    with contextlib.ExitStack() as stack:
        data_dir = config.data_dir or stack.enter_context(
            tempfile.TemporaryDirectory(prefix="tw-bench-probes-")
        )
        runner = stack.enter_context(asyncio.Runner(loop_factory=factory))
        runner.run(_trial(config, Path(data_dir), emit, profiler))
    return 0


# -- the orchestrator -----------------------------------------------------------------------


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--monitors", type=int, help=f"monitors per trial ({TARGET_MONITORS})")
    parser.add_argument("--interval", type=float, help=f"seconds ({TARGET_INTERVAL_S:g})")
    parser.add_argument("--window", type=float, help="seconds measured (2 intervals)")
    parser.add_argument("--warmup", type=float, help="seconds first (1 interval + 2 s)")
    parser.add_argument("--ports", type=int, default=8, help="target ports (8)")
    parser.add_argument("--concurrency", type=int, default=256, help="max_concurrency (256)")
    parser.add_argument(
        "--max-search", type=int, help="trials searching the largest N in bounds (6; 0: skip)"
    )
    parser.add_argument("--search-window", type=float, help="seconds per search trial (1 int.)")
    parser.add_argument(
        "--quick", action="store_true", help="smoke test: 1,000 monitors, 10 s interval, 20 s"
    )
    parser.add_argument(
        "--profile", type=Path, help="only run the scheduler under cProfile; write stats here"
    )
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    parser.add_argument("--trial", help=argparse.SUPPRESS)  # internal: run one trial
    args = parser.parse_args(argv)
    if args.trial:
        return args
    quick = args.quick
    defaults = {
        "monitors": 1_000 if quick else TARGET_MONITORS,
        "interval": 10.0 if quick else TARGET_INTERVAL_S,
        "max_search": 2 if quick else 6,
    }
    for name, default in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, default)
    if args.window is None:
        args.window = 2 * args.interval
    if args.warmup is None:
        args.warmup = args.interval + 2.0  # every monitor has started and finished once
    if args.search_window is None:
        args.search_window = args.interval
    if min(args.monitors, args.interval, args.window, args.ports, args.concurrency) <= 0:
        parser.error("--monitors, --interval, --window, --ports, --concurrency must be > 0")
    if args.warmup < args.interval:
        parser.error("--warmup must cover one interval, so every monitor has started")
    return args


def _cpus() -> tuple[int | None, int | None]:
    """Return (warden CPU, targets CPU): two different CPUs when there are two."""
    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) < 2:
        return None, None
    return allowed[1], allowed[0]


@contextlib.contextmanager
def _targets(ports: int, cpu: int | None, max_runtime_s: float) -> Iterator[tuple[int, ...]]:
    """Start the target process; yield its ports; terminate it on exit."""
    command = [sys.executable, str(BENCH / "_probe_targets.py"), "--ports", str(ports)]
    command += ["--max-runtime-s", f"{max_runtime_s:.0f}"]
    if cpu is not None:
        command += ["--cpu", str(cpu)]
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().split()  # "ready <port> ...", or "" if it died
        if not line or line[0] != "ready":
            raise RuntimeError(f"targets did not start (exit {proc.poll()})")
        yield tuple(int(port) for port in line[1:])
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def _run_trial(config: TrialConfig, teardown_grace_s: float = 30.0) -> dict[str, Any]:
    """Run one trial in a fresh process; return its result (with ``error`` if it failed).

    The trial prints its result before it tears down. An overloaded trial can take minutes
    to cancel its requests; it gets ``teardown_grace_s`` to exit, then it is killed.
    """
    budget_s = config.warmup_s + config.window_s + 120 + config.monitors / 500
    with tempfile.TemporaryDirectory(prefix="tw-bench-probes-") as tmp:
        config = replace(config, data_dir=tmp)
        out, err = Path(tmp) / "stdout", Path(tmp) / "stderr"
        command = [sys.executable, str(Path(__file__).resolve()), "--trial"]
        command.append(json.dumps(asdict(config)))
        with out.open("w") as stdout, err.open("w") as stderr:
            proc = subprocess.Popen(command, cwd=ROOT, stdout=stdout, stderr=stderr)
        try:
            deadline = time.monotonic() + budget_s
            result = _read_result(out)
            while result is None and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.5)
                result = _read_result(out)
            result = result or _read_result(out)
            try:
                proc.wait(timeout=teardown_grace_s if result else 1.0)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
                if result is not None:
                    result["teardown_killed_after_s"] = teardown_grace_s
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
        if result is not None:
            return result
        if time.monotonic() >= deadline:
            return {**asdict(config), "error": f"no result within {budget_s:.0f} s"}
        tail = "\n".join(err.read_text().splitlines()[-20:])
        return {**asdict(config), "error": f"trial exited {proc.returncode}:\n{tail}"}


def _read_result(path: Path) -> dict[str, Any] | None:
    for line in path.read_text().splitlines():
        if line.startswith(_RESULT_PREFIX):
            with contextlib.suppress(json.JSONDecodeError):  # half written: read it again
                result: dict[str, Any] = json.loads(line.removeprefix(_RESULT_PREFIX))
                return result
    return None


def _misses(result: dict[str, Any]) -> list[str]:
    """Return which bounds a trial missed (empty: all met)."""
    if "error" in result:
        return ["trial failed"]
    missed = []
    if not result["drift_p99_ms"] < BOUND_DRIFT_P99_S * 1000:
        missed.append("drift p99")
    if not result["cpu_pct"] < BOUND_CPU_PCT:
        missed.append("CPU")
    if result["down_flips"] or result["states_at_end"].get("DOWN", 0):
        missed.append("false DOWN")
    if result["not_up_at_end"]:
        missed.append("not all UP")
    if not result["checks_ratio"] >= BOUND_CHECKS_RATIO:
        missed.append("checks/s")
    return missed


def _config(args: argparse.Namespace, scheduler: str, monitors: int, **extra: Any) -> TrialConfig:
    fields: dict[str, Any] = {
        "scheduler": scheduler,
        "monitors": monitors,
        "interval_s": args.interval,
        "warmup_s": args.warmup,
        "window_s": args.window,
        "ports": args.target_ports,
        "cpu": args.warden_cpu,
        "max_concurrency": args.concurrency,
    }
    return TrialConfig(**{**fields, **extra})


def _announce(config: TrialConfig) -> None:
    print(
        f"  {config.scheduler}: {config.monitors:,} monitors every {config.interval_s:g} s,"
        f" {config.warmup_s:g} s warm-up + {config.window_s:g} s measured ...",
        flush=True,
    )


def _search(args: argparse.Namespace, first: dict[str, Any]) -> list[dict[str, Any]]:
    """Double (or halve) N from the main trial until the bounds flip, then bisect."""
    step = 50 if args.quick else 500
    passed = not _misses(first)
    low: int | None = first["monitors"] if passed else None  # largest N in bounds
    high: int | None = None if passed else first["monitors"]  # smallest N out of bounds
    trials: list[dict[str, Any]] = []
    while len(trials) < args.max_search:
        if high is None:
            assert low is not None
            if low >= 16 * args.monitors:
                break
            monitors = 2 * low
        elif low is None:
            monitors = high // 2
            if monitors < step:
                break
        else:
            if high - low <= max(step, 0.1 * low):
                break
            monitors = max(step, round((low + high) / 2 / step) * step)
            if monitors in {low, high}:
                break
        config = _config(args, "tradewarden", monitors, window_s=args.search_window)
        _announce(config)
        result = _run_trial(config)
        trials.append(result)
        if _misses(result):
            high = monitors
        else:
            low = monitors
    return trials


def _peer_at_largest(
    args: argparse.Namespace, first: dict[str, Any], trials: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Run the peer at the largest N in bounds, if that is not the main N: a ratio in bounds."""
    low, _ = _largest(first, trials)
    if low is None or low == first["monitors"]:
        return []
    warden = next(r for r in trials if r["monitors"] == low and not _misses(r))
    config = _config(args, "naive", low, window_s=warden["window_s"])
    _announce(config)
    return [warden, _run_trial(config)]


def _largest(first: dict[str, Any], trials: list[dict[str, Any]]) -> tuple[int | None, int | None]:
    """Return (largest N in bounds, smallest N out of bounds) over every trial."""
    everything = [first, *trials]
    inside = [r["monitors"] for r in everything if not _misses(r)]
    outside = [r["monitors"] for r in everything if _misses(r)]
    return max(inside, default=None), min(outside, default=None)


# -- reporting ------------------------------------------------------------------------------


def _machine() -> dict[str, Any]:
    cpu = platform.processor() or "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    versions = {}
    for package in (
        "tradewarden",
        "aiohttp",
        "httpx",
        "uvloop",
        "sqlalchemy",
        "aiosqlite",
        "prometheus_client",
        "pydantic",
    ):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[package] = metadata.version(package)
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cores": os.cpu_count(),
        "cpu": cpu,
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "loadavg_1m_at_start": round(os.getloadavg()[0], 2),
        "packages": versions,
    }


_COLUMNS = (
    ("scheduler", 11, "scheduler", "s"),
    ("monitors", 8, "monitors", ",d"),
    ("window s", 8, "measured_s", ".0f"),
    ("checks/s", 8, "checks_per_s", ".1f"),
    ("expected", 8, "expected_per_s", ".1f"),
    ("drift p50 ms", 12, "drift_p50_ms", ".1f"),
    ("p99 ms", 8, "drift_p99_ms", ".1f"),
    ("max ms", 8, "drift_max_ms", ".1f"),
    ("lag p99 ms", 10, "loop_lag_p99_ms", ".1f"),
    ("CPU %", 6, "cpu_pct", ".1f"),
    ("warm-up %", 9, "warmup_cpu_pct", ".1f"),
    ("RSS MiB", 7, "rss_mib", ".0f"),
    ("pool", 4, "pool_connections_max", "d"),
    ("failed", 6, "failed_checks", "d"),
    ("DOWN", 4, "down_flips", "d"),
    ("not UP", 6, "not_up_at_end", "d"),
    ("others %", 8, "core_other_pct", ".1f"),
)


def _cell(result: dict[str, Any], key: str, spec: str) -> str:
    value = result.get(key)
    if value is None:
        return "-"
    if isinstance(value, float) and not math.isfinite(value):
        return "-"
    return format(value, spec)


def _print_table(results: list[dict[str, Any]]) -> None:
    header = " ".join(f"{title:>{width}}" for title, width, _, _ in _COLUMNS) + "  bounds"
    print(header)
    print("-" * len(header))
    for result in results:
        if "error" in result:
            print(f"{result['scheduler']:>11} {result['monitors']:>8,}  {result['error']}")
            continue
        cells = [f"{_cell(result, key, spec):>{width}}" for _, width, key, spec in _COLUMNS]
        missed = _misses(result)
        print(" ".join(cells) + "  " + ("met" if not missed else "MISSED: " + ", ".join(missed)))
    print(
        "drift: check start minus its due time on the monitor's phase; lag: how late a 100 ms"
        " sleep woke; CPU %: the process (all threads) over the measured window, % of one core;"
        " warm-up %: the same over the warm-up (first checks, every PENDING -> UP flip stored);"
        " pool: most connections in the client's pool; DOWN: flips to DOWN;"
        " others %: other processes' CPU on the warden's core"
    )
    for result in results:
        label = f"{result['scheduler']} at {result['monitors']:,}"
        for example in result.get("failure_examples", []):
            print(f"  failed check ({label}): {example}")
        if "teardown_killed_after_s" in result:
            grace = result["teardown_killed_after_s"]
            print(f"  {label}: still cancelling its checks {grace:g} s after the window; killed")


def _ratio(warden: dict[str, Any], peer: dict[str, Any], key: str) -> float:
    if "error" in warden or "error" in peer or not peer.get(key):
        return float("nan")
    return float(warden[key] / peer[key])


def _ratios(warden: dict[str, Any], peer: dict[str, Any]) -> dict[str, float]:
    return {
        "cpu": _ratio(warden, peer, "cpu_pct"),
        "drift_p99": _ratio(warden, peer, "drift_p99_ms"),
        "drift_max": _ratio(warden, peer, "drift_max_ms"),
        "rss": _ratio(warden, peer, "rss_mib"),
    }


def _print_ratios(warden: dict[str, Any], peer: dict[str, Any]) -> dict[str, float]:
    ratios = _ratios(warden, peer)
    print(
        f"ratios, tradewarden / naive peer (same N, same run): CPU {ratios['cpu']:.2f}x,"
        f" drift p99 {ratios['drift_p99']:.2f}x, drift max {ratios['drift_max']:.2f}x,"
        f" RSS {ratios['rss']:.2f}x"
    )
    return ratios


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


def _print_profile(path: Path, top: int = 25) -> None:
    """Print the profile's hottest functions and its time by package."""
    stats = pstats.Stats(str(path))
    total = sum(row[2] for row in stats.stats.values())  # type: ignore[attr-defined]
    by_package: Counter[str] = Counter()
    for (filename, _, name), row in stats.stats.items():  # type: ignore[attr-defined]
        by_package[_package(filename, name)] += row[2]
    print(f"\nown time by package (cProfile, {total:.1f} s of profiled CPU):")
    for package, seconds in by_package.most_common(15):
        print(f"  {seconds / total * 100:5.1f} %  {package}")
    print(f"\nthe {top} functions with the most own time:")
    stats.sort_stats("tottime").print_stats(top)


def _package(filename: str, name: str) -> str:
    if filename == "~":
        return f"C built-ins ({name.split(' of ', maxsplit=1)[0].strip('<>')})"[:60]
    parts = Path(filename).parts
    if "site-packages" in parts:
        return parts[parts.index("site-packages") + 1]
    if "tradewarden" in parts:
        index = parts.index("tradewarden")
        return ".".join(Path(*parts[index : index + 3]).with_suffix("").parts)
    if "bench" in parts:
        return "bench (the harness)"
    return "python stdlib: " + (parts[-2] if parts[-1] == "__init__.py" else parts[-1])


def _profile(args: argparse.Namespace) -> int:
    config = _config(args, "tradewarden", args.monitors, profile=str(args.profile.resolve()))
    _announce(config)
    result = _run_trial(config)
    _print_table([result])
    if "error" not in result:
        _print_profile(args.profile)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    if args.trial:
        return _trial_main(args.trial)
    # A SIGTERM unwinds like Ctrl-C: the targets and the trial in flight are stopped and the
    # temporary directories removed on the way out.
    signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(128 + signum))
    machine = _machine()
    # Chosen before this process pins itself to the targets' CPU (its children inherit that).
    warden_cpu, targets_cpu = _cpus()
    args.warden_cpu = warden_cpu
    if targets_cpu is not None:
        os.sched_setaffinity(0, {targets_cpu})  # keep this process off the warden's core
    print(
        f"bench/probes.py on {machine['cores']} cores, {machine['cpu']}, Python"
        f" {machine['python']}, load {machine['loadavg_1m_at_start']}, {machine['date']}"
    )
    print(
        f"warden trials pinned to CPU {warden_cpu}, {args.ports} target ports on CPU"
        f" {targets_cpu}; max_concurrency {args.concurrency}"
    )
    trial_s = args.warmup + max(args.window, args.search_window) + 300
    # The main pair, the search, the peer at the largest N in bounds; then a margin.
    runtime_s = (args.max_search + 4) * trial_s
    with _targets(args.ports, targets_cpu, runtime_s) as ports:
        args.target_ports = ports
        if args.profile:
            return _profile(args)
        print("\nsame N, tradewarden and the naive peer:", flush=True)
        main_results = []
        for scheduler in ("tradewarden", "naive"):
            config = _config(args, scheduler, args.monitors)
            _announce(config)
            main_results.append(_run_trial(config))
        warden, peer = main_results
        search: list[dict[str, Any]] = []
        at_largest: list[dict[str, Any]] = []
        if args.max_search > 0:
            print("\nlargest N in bounds (tradewarden):", flush=True)
            search = _search(args, warden)
            at_largest = _peer_at_largest(args, warden, search)
    machine["loadavg_1m_at_end"] = round(os.getloadavg()[0], 2)
    print()
    _print_table(main_results)
    ratios = _print_ratios(warden, peer)
    bounds = (
        f"drift p99 < {BOUND_DRIFT_P99_S:g} s, CPU < {BOUND_CPU_PCT:g} % of one core, no DOWN,"
        f" every monitor UP, checks >= {BOUND_CHECKS_RATIO:.0%} of N / interval"
    )
    verdict = "MET" if not _misses(warden) else "MISSED (" + ", ".join(_misses(warden)) + ")"
    print(f"target: {args.monitors:,} monitors every {args.interval:g} s, {bounds}: {verdict}")
    largest = _largest(warden, search)
    if at_largest:
        print(f"\nat the largest N in bounds ({at_largest[0]['monitors']:,}), same window:")
        _print_table(at_largest)
        _print_ratios(*at_largest)
    if search:
        print(f"\nsearch ({args.search_window:g} s measured per trial):")
        _print_table(search)
        low, high = largest
        print(
            f"largest N in bounds: {low if low is None else format(low, ',')}"
            f" (smallest out of bounds: {high if high is None else format(high, ',')})"
        )
    print(f"load average (1 min): {machine['loadavg_1m_at_start']} at start, ", end="")
    print(f"{machine['loadavg_1m_at_end']} at end")
    if args.json:
        settings = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
        report = {
            "benchmark": "bench/probes.py",
            "machine": machine,
            "settings": settings,
            "bounds": bounds,
            "trials": main_results,
            "ratios": ratios,
            "search": search,
            "at_largest_in_bounds": at_largest,
            "ratios_at_largest_in_bounds": _ratios(*at_largest) if at_largest else None,
            "largest_in_bounds": largest[0],
            "smallest_out_of_bounds": largest[1],
        }
        args.json.write_text(json.dumps(_finite(report), indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
