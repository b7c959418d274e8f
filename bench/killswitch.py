"""The kill switch: what a check costs a bot, and how fast a halt reaches every bot process.

Check cost (timeit, best of 7): ``kill_switch.active`` (an attribute the back end's watch
keeps current) against the peers a bot author would hand-roll: ``threading.Event.is_set()``,
a getter that takes a lock, and reading the shared state per check (Redis ``GET``, SQLite
``SELECT``). Target: under 100 ns.

Convergence: 8 bot processes watch one store; the operator halts (then resumes) N times,
each after a random pause of up to 200 ms;
each bot reports ``time.monotonic()`` (one clock for every process on Linux) when its
listener has applied the change, i.e. when its ``check_order`` refuses. The figure is the
time until the *last* bot refuses. Targets: p99 under 20 ms on Redis, under 1 s on the file.

    .venv/bin/python bench/killswitch.py [--bots 8] [--rounds 50] [--quick]

Redis is a private redis-server on a free 127.0.0.1 port (no persistence), stopped on exit.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import platform
import queue
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import timeit
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from tradewarden.guard.state import (
    RedisBackend,
    SQLiteBackend,
    StateBackend,
    StateChange,
    TradingState,
)
from tradewarden.guard.trading import KillSwitch, OrderSide

REDIS_BINARY = "/usr/bin/redis-server"
TARGET_CHECK_NS = 100.0
TARGET_REDIS_P99_MS = 20.0
TARGET_FILE_P99_MS = 1000.0


def backend_from(spec: str) -> StateBackend:
    """Build a back end from ``sqlite:<path>`` or ``redis:<url>|<prefix>``."""
    kind, _, rest = spec.partition(":")
    if kind == "sqlite":
        return SQLiteBackend(rest)
    url, _, prefix = rest.partition("|")
    return RedisBackend(url, prefix=prefix)


def bot(spec: str) -> None:
    """Run one bot: print each applied state with the monotonic time, until stdin closes."""
    backend = backend_from(spec)
    switch = KillSwitch(backend)

    def report(state: TradingState, change: StateChange) -> None:
        refused = not switch.check_order(OrderSide.BUY, 1.0, 0.0).allowed
        print(f"{state.name} {change.version} {refused} {time.monotonic()!r}", flush=True)

    switch.add_listener(report)
    print(f"READY {switch.current.version} False {time.monotonic()!r}", flush=True)
    sys.stdin.read()
    switch.close()
    backend.close()


@contextlib.contextmanager
def private_redis() -> Iterator[str]:
    """Start a throwaway redis-server; yield its URL."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with tempfile.TemporaryDirectory(prefix="tw-bench-redis-") as directory:
        argv = [REDIS_BINARY, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
        argv += ["--appendonly", "no", "--dir", directory]
        server = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 10
            while True:
                with (
                    contextlib.suppress(OSError),
                    socket.create_connection(("127.0.0.1", port), timeout=0.5) as conn,
                ):
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError("redis-server did not start")
                time.sleep(0.02)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            server.terminate()
            server.wait(timeout=10)


def best_ns(stmt: str, env: dict[str, object], number: int) -> float:
    """Return the best time per execution of ``stmt`` in nanoseconds."""
    return min(timeit.repeat(stmt, globals=env, number=number, repeat=7)) / number * 1e9


def check_costs(redis_url: str, directory: Path, quick: bool) -> list[tuple[str, float]]:
    """Measure the per-check cost of the kill switch and of its peers."""
    fast = 200_000 if quick else 2_000_000
    slow = 2_000 if quick else 20_000
    sqlite_path = directory / "check.db"
    backend = SQLiteBackend(sqlite_path)
    switch = KillSwitch(backend)
    event = threading.Event()
    lock = threading.Lock()

    class LockedGetter:
        def __init__(self) -> None:
            self._state = TradingState.ACTIVE

        @property
        def active(self) -> bool:
            with lock:
                return self._state is TradingState.ACTIVE

    import redis

    client = redis.Redis.from_url(redis_url)
    client.set("bench-peer:state", "ACTIVE")
    import sqlite3

    conn = sqlite3.connect(sqlite_path)
    env: dict[str, object] = {
        "switch": switch,
        "event": event,
        "getter": LockedGetter(),
        "client": client,
        "conn": conn,
        "BUY": OrderSide.BUY,
    }
    rows = [
        ("loop overhead (pass)", best_ns("pass", env, fast)),
        ("tradewarden kill_switch.active", best_ns("switch.active", env, fast)),
        ("peer threading.Event.is_set()", best_ns("event.is_set()", env, fast)),
        ("peer getter under a lock", best_ns("getter.active", env, fast)),
        ("tradewarden check_order(...)", best_ns("switch.check_order(BUY, 1.0, 0.0)", env, fast)),
        ("peer Redis GET per check", best_ns("client.get('bench-peer:state')", env, slow)),
        (
            "peer SQLite SELECT per check",
            best_ns(
                "conn.execute('SELECT state FROM trading_state_changes "
                "ORDER BY version DESC LIMIT 1').fetchone()",
                env,
                slow,
            ),
        ),
    ]
    client.close()
    conn.close()
    switch.close()
    backend.close()
    return rows


def _reader(stream: IO[str], index: int, out: queue.Queue[tuple[int, str]]) -> None:
    for line in stream:
        out.put((index, line.strip()))


def convergence(spec: str, bots: int, rounds: int) -> tuple[list[float], list[float]]:
    """Return (halt, resume) times in ms until the last of ``bots`` processes applied each."""
    lines: queue.Queue[tuple[int, str]] = queue.Queue()
    procs = [
        subprocess.Popen(
            [sys.executable, __file__, "--bot", spec],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(bots)
    ]
    for index, proc in enumerate(procs):
        assert proc.stdout is not None
        threading.Thread(target=_reader, args=(proc.stdout, index, lines), daemon=True).start()

    def wait_for(expected: str, version: int) -> float:
        """Return the latest monotonic time at which every bot reported ``expected``."""
        seen: dict[int, float] = {}
        while len(seen) < bots:
            index, line = lines.get(timeout=30)
            state, got, refused, at = line.split()
            if state == expected and int(got) >= version:
                if expected == "HALTED" and refused != "True":
                    raise RuntimeError(f"bot {index} applied HALTED but did not refuse")
                seen[index] = float(at)
        return max(seen.values())

    backend = backend_from(spec)
    operator = KillSwitch(backend, watch=False)
    halts: list[float] = []
    resumes: list[float] = []
    try:
        wait_for("READY", 0)
        for _ in range(rounds):
            # A random pause, so changes do not land in step with the file back end's polls.
            time.sleep(random.uniform(0.0, 0.2))
            started = time.monotonic()
            change = operator.halt("operator:bench", "convergence")
            halts.append((wait_for("HALTED", change.version) - started) * 1e3)
            time.sleep(random.uniform(0.0, 0.2))
            started = time.monotonic()
            change = operator.resume("operator:bench", "convergence")
            resumes.append((wait_for("ACTIVE", change.version) - started) * 1e3)
    finally:
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.close()
        for proc in procs:
            proc.wait(timeout=30)
        backend.close()
    return halts, resumes


def percentile(values: list[float], q: float) -> float:
    """Return the q-th percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def main() -> None:
    """Run both measurements and print the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bot", help=argparse.SUPPRESS)
    parser.add_argument("--bots", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--quick", action="store_true", help="fewer iterations and 10 rounds")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)  # each change is a WARNING line otherwise
    if args.bot:
        bot(args.bot)
        return
    rounds = 10 if args.quick else args.rounds
    print(f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs")
    print(f"load average before: {os.getloadavg()}")
    with tempfile.TemporaryDirectory(prefix="tw-bench-ks-") as tmp, private_redis() as url:
        directory = Path(tmp)
        rows = check_costs(url, directory, args.quick)
        ours = dict(rows)["tradewarden kill_switch.active"]
        print("\ncheck cost (best of 7)                 ns/check   x tradewarden")
        for name, ns in rows:
            print(f"  {name:<36} {ns:>9.1f}   {ns / ours:>8.1f}")
        verdict = "met" if ours < TARGET_CHECK_NS else "NOT met"
        print(f"  target under {TARGET_CHECK_NS:.0f} ns: {verdict}")
        print(f"\nconvergence: {args.bots} bots, {rounds} halts and resumes each")
        print("  back end   change   p50 ms   p99 ms   max ms   target p99")
        for name, spec, target in (
            ("redis", f"redis:{url}|bench", TARGET_REDIS_P99_MS),
            ("file", f"sqlite:{directory / 'state.db'}", TARGET_FILE_P99_MS),
        ):
            halts, resumes = convergence(spec, args.bots, rounds)
            for label, values in (("halt", halts), ("resume", resumes)):
                p99 = percentile(values, 99)
                print(
                    f"  {name:<9}  {label:<7} {statistics.median(values):>7.1f}  {p99:>7.1f}"
                    f"  {max(values):>7.1f}   {target:.0f} ms"
                    f" {'met' if p99 < target else 'NOT met'}"
                )
    print(f"\nload average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
