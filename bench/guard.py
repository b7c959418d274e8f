"""The guard against the libraries a bot author would pick instead, side by side in one run.

Sections (``--section``, default all):

- ``breaker``: tradewarden's ``CircuitBreaker`` against pybreaker, aiobreaker, purgatory
  and circuitbreaker (``pip install -e '.[bench]'``):
  1. closed-state guarded call, sync and async: ns per call, best of ``--rounds`` rounds of
     ``--calls`` calls, with the raw call / raw await as the baseline; ratios against the
     fastest peer (target: at most 0.5x, sync and async);
  2. 4 concurrent 200 ms calls through one breaker (threads for sync breakers, asyncio tasks
     for async ones): wall time (target: about 0.2 s);
  3. half-open admission: the breaker tripped and its timeout passed, 20 concurrent callers
     at once, each trial held until every caller has been admitted, rejected or left
     waiting (target: exactly ``permitted_calls_in_half_open`` admitted, the rest rejected).

    .venv/bin/python bench/guard.py [--section breaker] [--quick] [--json out.json]

The process pins itself to one CPU (``--cpu``, default the last one) so the call timings
are one core's; everything is in-process and stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import math
import os
import platform
import subprocess
import sys
import threading
import time
import timeit
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any

SLOW_CALL_S = 0.2
CONCURRENT_CALLS = 4
HALF_OPEN_CALLERS = 20
TRIP_TIMEOUT_S = 0.2
SETTLE_S = 0.3  # how long the trials are held: every caller has been answered by then


class BenchError(Exception):
    """The failure used to trip a breaker."""


# -- the machine ------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    """Describe the machine and the versions measured."""
    model = "unknown"
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        for line in subprocess.run(
            ["lscpu"], capture_output=True, text=True, check=False
        ).stdout.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    versions = {}
    for dist in ("tradewarden", "pybreaker", "aiobreaker", "purgatory", "circuitbreaker"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = "not installed"
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": versions,
        "affinity": sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "loadavg_start": os.getloadavg()[0],
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
    }


# -- breaker: the contenders ----------------------------------------------------------------


@dataclass
class Contender:
    """One library's breaker, built fresh for each scenario."""

    name: str
    sync: Callable[..., Callable[[Callable[[], Any]], Callable[[], Any]]] | None
    asyncf: Callable[..., Callable[[Callable[[], Awaitable[Any]]], Callable[[], Any]]] | None
    ours: bool = False


def _tradewarden(*, trip: bool = False, permitted: int = 1, window: bool = False) -> Any:
    from tradewarden.guard.breaker import BreakerConfig, CircuitBreaker, WindowKind

    config = BreakerConfig(
        failure_threshold=1 if trip else 5,
        timeout_s=TRIP_TIMEOUT_S if trip else 30.0,
        permitted_calls_in_half_open=permitted,
        window=WindowKind.COUNT if window else WindowKind.CONSECUTIVE,
        minimum_number_of_calls=1 if trip else 100,
    )
    return CircuitBreaker("bench", config)


def _pybreaker(*, trip: bool = False) -> Any:
    import pybreaker

    return pybreaker.CircuitBreaker(
        fail_max=1 if trip else 5, reset_timeout=TRIP_TIMEOUT_S if trip else 30
    )


def _aiobreaker(*, trip: bool = False) -> Any:
    import aiobreaker

    return aiobreaker.CircuitBreaker(
        fail_max=1 if trip else 5,
        timeout_duration=timedelta(seconds=TRIP_TIMEOUT_S if trip else 30),
    )


def _circuitbreaker(*, trip: bool = False) -> Any:
    import circuitbreaker

    return circuitbreaker.CircuitBreaker(
        failure_threshold=1 if trip else 5,
        recovery_timeout=TRIP_TIMEOUT_S if trip else 30,
        expected_exception=BenchError,
    )


def _purgatory_sync(*, trip: bool = False) -> Any:
    import purgatory

    factory = purgatory.SyncCircuitBreakerFactory(
        default_threshold=1 if trip else 5, default_ttl=TRIP_TIMEOUT_S if trip else 30
    )
    return factory("bench")


def _purgatory_async(*, trip: bool = False) -> Any:
    import purgatory

    factory = purgatory.AsyncCircuitBreakerFactory(
        default_threshold=1 if trip else 5, default_ttl=TRIP_TIMEOUT_S if trip else 30
    )
    return factory("bench")


def contenders() -> list[Contender]:
    """Return every contender, ours first; each builds a decorator."""

    def windowed(**kw: Any) -> Any:
        return _tradewarden(window=True, **kw)

    return [
        Contender("tradewarden", _tradewarden, _tradewarden, ours=True),
        Contender("tradewarden (count window)", windowed, windowed, ours=True),
        Contender("pybreaker", _pybreaker, None),
        Contender("aiobreaker", None, _aiobreaker),
        Contender("purgatory", _purgatory_sync, _purgatory_async),
        Contender("circuitbreaker", _circuitbreaker, _circuitbreaker),
    ]


# -- breaker: 1. the closed-state guarded call ------------------------------------------------


def _raw() -> int:
    return 1


async def _araw() -> int:
    return 1


def time_sync(fn: Callable[[], Any], calls: int, rounds: int) -> float:
    """Return the best ns per call over ``rounds`` rounds."""
    fn()
    return min(timeit.repeat(fn, number=calls, repeat=rounds)) / calls * 1e9


def time_async(fn: Callable[[], Awaitable[Any]], calls: int, rounds: int) -> float:
    """Return the best ns per awaited call over ``rounds`` rounds, on one event loop."""

    async def loop() -> float:
        await fn()
        best = float("inf")
        for _ in range(rounds):
            start = time.perf_counter()
            for _ in range(calls):
                await fn()
            best = min(best, time.perf_counter() - start)
        return best

    return asyncio.run(loop()) / calls * 1e9


@dataclass
class CallRow:
    library: str
    mode: str
    ns_per_call: float
    overhead_ns: float
    ours: bool
    ratio_to_fastest_peer: float | None = None


def bench_calls(calls: int, rounds: int) -> list[CallRow]:
    """Scenario 1: closed-state guarded calls, sync then async."""
    rows: list[CallRow] = []
    raw = time_sync(_raw, calls, rounds)
    rows.append(CallRow("raw call", "sync", raw, 0.0, ours=False))
    for c in contenders():
        if c.sync is not None:
            guarded = c.sync()(_raw)
            ns = time_sync(guarded, calls, rounds)
            rows.append(CallRow(c.name, "sync", ns, ns - raw, ours=c.ours))
    araw = time_async(_araw, calls, rounds)
    rows.append(CallRow("raw await", "async", araw, 0.0, ours=False))
    for c in contenders():
        if c.asyncf is not None:
            guarded = c.asyncf()(_araw)
            ns = time_async(guarded, calls, rounds)
            rows.append(CallRow(c.name, "async", ns, ns - araw, ours=c.ours))
    for mode in ("sync", "async"):
        peers = [
            r for r in rows if r.mode == mode and not r.ours and not r.library.startswith("raw")
        ]
        fastest = min(r.ns_per_call for r in peers)
        for r in rows:
            if r.mode == mode and not r.library.startswith("raw"):
                r.ratio_to_fastest_peer = r.ns_per_call / fastest
    return rows


# -- breaker: 2. concurrent slow calls ------------------------------------------------------


@dataclass
class ConcurrencyRow:
    library: str
    mode: str
    wall_s: float
    ours: bool


def bench_concurrency() -> list[ConcurrencyRow]:
    """Scenario 2: 4 concurrent 200 ms calls through one breaker."""
    rows: list[ConcurrencyRow] = []
    for c in contenders():
        if c.sync is not None:
            guarded = c.sync()(lambda: time.sleep(SLOW_CALL_S))
            barrier = threading.Barrier(CONCURRENT_CALLS + 1)

            def worker(
                call: Callable[[], Any] = guarded, gate: threading.Barrier = barrier
            ) -> None:
                gate.wait()
                call()

            threads = [threading.Thread(target=worker) for _ in range(CONCURRENT_CALLS)]
            for t in threads:
                t.start()
            barrier.wait()
            start = time.perf_counter()
            for t in threads:
                t.join()
            rows.append(ConcurrencyRow(c.name, "threads", time.perf_counter() - start, c.ours))
        if c.asyncf is not None:

            async def slow() -> None:
                await asyncio.sleep(SLOW_CALL_S)

            guarded_async = c.asyncf()(slow)

            async def run(call: Callable[[], Any] = guarded_async) -> float:
                start = time.perf_counter()
                await asyncio.gather(*(call() for _ in range(CONCURRENT_CALLS)))
                return time.perf_counter() - start

            rows.append(ConcurrencyRow(c.name, "asyncio", asyncio.run(run()), c.ours))
    return rows


# -- breaker: 3. half-open admission ----------------------------------------------------------


@dataclass
class AdmissionRow:
    library: str
    mode: str
    permitted: int | None
    admitted: int
    rejected: int
    waiting: int
    ours: bool
    notes: list[str] = field(default_factory=list)


def _trip_sync(guarded_fail: Callable[[], Any]) -> None:
    with contextlib.suppress(Exception):
        guarded_fail()
    time.sleep(TRIP_TIMEOUT_S * 1.5)


def half_open_sync(
    name: str, build: Callable[..., Any], permitted: int | None, ours: bool
) -> AdmissionRow:
    """20 threads at once against a breaker whose timeout has just passed."""
    decorator = build(trip=True) if permitted is None else build(trip=True, permitted=permitted)
    release = threading.Event()
    lock = threading.Lock()
    counts = {"admitted": 0, "rejected": 0}

    def fail() -> None:
        raise BenchError

    def trial() -> None:
        with lock:
            counts["admitted"] += 1
        release.wait(10)

    guarded_fail, guarded_trial = decorator(fail), decorator(trial)
    _trip_sync(guarded_fail)
    start = threading.Barrier(HALF_OPEN_CALLERS)

    def caller() -> None:
        start.wait()
        try:
            guarded_trial()
        except Exception:  # noqa: BLE001 - every library names its rejection differently
            with lock:
                counts["rejected"] += 1

    threads = [threading.Thread(target=caller) for _ in range(HALF_OPEN_CALLERS)]
    for t in threads:
        t.start()
    time.sleep(SETTLE_S)
    with lock:
        admitted, rejected = counts["admitted"], counts["rejected"]
    release.set()
    for t in threads:
        t.join()
    waiting = HALF_OPEN_CALLERS - admitted - rejected
    notes = []
    if waiting:
        notes.append(f"{waiting} blocked until the trial ended, then ran")
    return AdmissionRow(name, "threads", permitted, admitted, rejected, waiting, ours, notes)


def half_open_async(
    name: str, build: Callable[..., Any], permitted: int | None, ours: bool
) -> AdmissionRow:
    """20 tasks at once against a breaker whose timeout has just passed."""
    decorator = build(trip=True) if permitted is None else build(trip=True, permitted=permitted)

    async def scenario() -> tuple[int, int, int]:
        release = asyncio.Event()
        counts = {"admitted": 0, "rejected": 0}

        async def fail() -> None:
            raise BenchError

        async def trial() -> None:
            counts["admitted"] += 1
            await release.wait()

        guarded_fail, guarded_trial = decorator(fail), decorator(trial)
        with contextlib.suppress(Exception):
            await guarded_fail()
        await asyncio.sleep(TRIP_TIMEOUT_S * 1.5)

        async def caller() -> None:
            try:
                await guarded_trial()
            except Exception:  # noqa: BLE001 - every library names its rejection differently
                counts["rejected"] += 1

        tasks = [asyncio.create_task(caller()) for _ in range(HALF_OPEN_CALLERS)]
        await asyncio.sleep(SETTLE_S)
        admitted, rejected = counts["admitted"], counts["rejected"]
        release.set()
        await asyncio.gather(*tasks)
        return admitted, rejected, HALF_OPEN_CALLERS - admitted - rejected

    admitted, rejected, waiting = asyncio.run(scenario())
    return AdmissionRow(name, "asyncio", permitted, admitted, rejected, waiting, ours)


def bench_half_open() -> list[AdmissionRow]:
    """Scenario 3: how many of 20 concurrent callers a half-open breaker lets through."""
    rows: list[AdmissionRow] = []
    for permitted in (1, 3):
        rows.append(half_open_sync("tradewarden", _tradewarden, permitted, True))
        rows.append(half_open_async("tradewarden", _tradewarden, permitted, True))
    rows.append(half_open_sync("pybreaker", _pybreaker, None, False))
    rows.append(half_open_async("aiobreaker", _aiobreaker, None, False))
    rows.append(half_open_sync("purgatory", _purgatory_sync, None, False))
    rows.append(half_open_async("purgatory", _purgatory_async, None, False))
    rows.append(half_open_sync("circuitbreaker", _circuitbreaker, None, False))
    rows.append(half_open_async("circuitbreaker", _circuitbreaker, None, False))
    return rows


# -- breaker: 4. convergence through Redis ---------------------------------------------------


def bench_convergence(url: str, changes: int) -> dict[str, Any] | None:
    """Time from a transition in one breaker until another sync's breaker has taken it up.

    Two ``RedisBreakerSync`` instances (each its own connections and threads) in this
    process, one breaker of the same name on each; alternately ``force_open()`` and
    ``reset()`` on the first, waiting for the second's listener.
    """
    import uuid

    import redis

    from tradewarden.guard.breaker import BreakerState, CircuitBreaker, RedisBreakerSync

    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except (redis.RedisError, OSError) as exc:
        print(f"(convergence skipped: Redis at {url} unreachable: {exc})")
        return None
    name = f"bench-{uuid.uuid4().hex[:8]}"
    channel = f"circuit_breaker:events:{name}"
    heard = threading.Event()
    source = CircuitBreaker(name)
    target = CircuitBreaker(name, listeners=[lambda _b, _old, _new: heard.set()])
    delays: list[float] = []
    with (
        RedisBreakerSync(url, channel=channel, poll_interval_s=60) as one,
        RedisBreakerSync(url, channel=channel, poll_interval_s=60) as two,
    ):
        one.attach(source)
        two.attach(target)
        deadline = time.monotonic() + 5
        while not (one.connected and two.connected) and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.3)  # both subscribed
        for i in range(changes):
            heard.clear()
            start = time.perf_counter()
            source.force_open() if i % 2 == 0 else source.reset()
            if not heard.wait(5):
                print(f"(convergence: change {i} not taken up within 5 s)")
                continue
            delays.append(time.perf_counter() - start)
            want = BreakerState.FORCED_OPEN if i % 2 == 0 else BreakerState.CLOSED
            assert target.state is want
        redis.Redis.from_url(url).delete(one.key(name))
    delays.sort()
    return {
        "changes": changes,
        "taken_up": len(delays),
        "p50_ms": delays[len(delays) // 2] * 1000,
        "p99_ms": delays[min(len(delays) - 1, math.ceil(len(delays) * 0.99) - 1)] * 1000,
        "max_ms": delays[-1] * 1000,
    }


# -- breaker: report ----------------------------------------------------------------------------


def section_breaker(args: argparse.Namespace) -> dict[str, Any]:
    """Run the breaker section and print its tables."""
    calls, rounds = (20_000, 3) if args.quick else (args.calls, args.rounds)
    print(f"\n== breaker: closed-state guarded call ({calls:,} calls, best of {rounds}) ==")
    call_rows = bench_calls(calls, rounds)
    print(f"{'library':<28} {'mode':<6} {'ns/call':>8} {'overhead':>9} {'vs fastest peer':>16}")
    for r in call_rows:
        ratio = "" if r.ratio_to_fastest_peer is None else f"{r.ratio_to_fastest_peer:.2f}x"
        print(
            f"{r.library:<28} {r.mode:<6} {r.ns_per_call:>8.0f} {r.overhead_ns:>9.0f} {ratio:>16}"
        )

    print(f"\n== breaker: {CONCURRENT_CALLS} concurrent {SLOW_CALL_S * 1000:.0f} ms calls ==")
    conc_rows = bench_concurrency()
    print(f"{'library':<28} {'mode':<8} {'wall s':>7}")
    for c in conc_rows:
        print(f"{c.library:<28} {c.mode:<8} {c.wall_s:>7.3f}")

    print(f"\n== breaker: half-open admission, {HALF_OPEN_CALLERS} concurrent callers ==")
    adm_rows = bench_half_open()
    header = ("library", "mode", "permitted", "admitted", "rejected", "waiting")
    print("{:<28} {:<8} {:>9} {:>8} {:>8} {:>7}".format(*header))
    for a in adm_rows:
        permitted = "-" if a.permitted is None else str(a.permitted)
        print(
            f"{a.library:<28} {a.mode:<8} {permitted:>9} {a.admitted:>8} {a.rejected:>8} "
            f"{a.waiting:>7}  {'; '.join(a.notes)}"
        )
    print(f"\n== breaker: convergence through Redis ({args.redis_url}) ==")
    convergence = bench_convergence(args.redis_url, 20 if args.quick else 200)
    if convergence is not None:
        print(
            f"{convergence['taken_up']} of {convergence['changes']} changes taken up: "
            f"p50 {convergence['p50_ms']:.2f} ms, p99 {convergence['p99_ms']:.2f} ms, "
            f"max {convergence['max_ms']:.2f} ms"
        )
    return {
        "convergence": convergence,
        "calls": [asdict(r) for r in call_rows],
        "concurrency": [asdict(c) for c in conc_rows],
        "half_open": [asdict(a) for a in adm_rows],
        "settings": {"calls": calls, "rounds": rounds},
    }


SECTIONS: dict[str, Callable[[argparse.Namespace], dict[str, Any]]] = {
    "breaker": section_breaker,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--section", choices=sorted(SECTIONS), action="append")
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--quick", action="store_true", help="few calls: a smoke test")
    parser.add_argument("--cpu", type=int, default=None, help="pin to this CPU (default: last)")
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        cpu = args.cpu if args.cpu is not None else max(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
    warnings.simplefilter("ignore", DeprecationWarning)  # peers' asyncio.iscoroutinefunction
    logging.getLogger("tradewarden").setLevel(logging.ERROR)  # the breakers trip on purpose
    info = machine()
    print(
        f"machine: {info['nproc']} CPUs ({info['cpu_model']}), Python {info['python']}, "
        f"pinned to {info['affinity']}; load {info['loadavg_start']:.2f}"
    )
    print("versions: " + ", ".join(f"{k} {v}" for k, v in info["versions"].items()))
    results: dict[str, Any] = {"machine": info}
    for name in args.section or list(SECTIONS):
        results[name] = SECTIONS[name](args)
    info["loadavg_end"] = os.getloadavg()[0]
    print(f"\nload average: {info['loadavg_start']:.2f} at start, {info['loadavg_end']:.2f} at end")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
