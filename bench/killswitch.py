"""The kill switch: what a check costs a bot, and how fast a halt reaches every bot process.

Check cost (timeit, best of 7): ``kill_switch.active`` (an attribute the back end's watch
keeps current) against the peers a bot author would hand-roll: ``threading.Event.is_set()``,
a getter that takes a lock, and reading the shared state per check (Redis ``GET``, SQLite
``SELECT``). Target: under 100 ns.

Propagation: a real ``tradewarden up`` on 127.0.0.1 (temporary data dir, SQLite store, an
operator API key from ``tradewarden apikey create``) and 8 bot processes, each a
``KillSwitch`` on the warden's trading-state back end, checking ``check_order`` in a loop.
Per round the operator halts trading through ``POST /api/kill-switch`` (one keep-alive
httpx client) and, interleaved, by a direct write to the back end (the peer: no HTTP, no
audit row), resuming after each and waiting until all 8 bots trade again. Each bot reports
``time.monotonic()`` (CLOCK_MONOTONIC: one clock for every process on Linux) when its check
first refused; the figure is the time from the request until the *last* bot refused.
Targets: p99 under 20 ms on Redis, under 1 s on the file back end.

    .venv/bin/python bench/killswitch.py [--bots 8] [--rounds 200] [--check-interval-ms 1] [--quick]

Redis is a private redis-server on a free 127.0.0.1 port (no persistence). The warden, the
bots and redis-server are stopped on exit, also on an error or SIGTERM.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import platform
import queue
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import timeit
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO

import httpx

from tradewarden.guard.state import (
    RedisBackend,
    SQLiteBackend,
    StateBackend,
    StateChange,
    TradingState,
)
from tradewarden.guard.trading import KillSwitch, OrderSide

HOST = "127.0.0.1"
ROOT = Path(__file__).resolve().parents[1]
REDIS_BINARY = "/usr/bin/redis-server"
TARGET_CHECK_NS = 100.0
TARGET_REDIS_P99_MS = 20.0
TARGET_FILE_P99_MS = 1000.0
# Every wait is bounded: a bot line, a request, a process start or stop.
LINE_TIMEOUT_S = 30.0
REQUEST_TIMEOUT_S = 10.0
START_TIMEOUT_S = 60.0
# Inherited settings that could point the warden at another database, a collector or Sentry.
_SCRUBBED_PREFIXES = ("TRADEWARDEN_", "OTEL_", "SENTRY_")
_SCRUBBED_NAMES = frozenset({"DATABASE_URL", "REDIS_URL"})


def backend_from(spec: str) -> StateBackend:
    """Build a back end from ``sqlite:<path>`` or ``redis:<url>|<prefix>``."""
    kind, _, rest = spec.partition(":")
    if kind == "sqlite":
        return SQLiteBackend(rest)
    url, _, prefix = rest.partition("|")
    return RedisBackend(url, prefix=prefix)


# -- the bot process ------------------------------------------------------------------------


def bot(spec: str, check_interval_s: float) -> None:
    """Check orders in a loop; print each change of the decision with the time first seen.

    A line is ``REFUSING|TRADING <version> <seen_at> <applied_version> <applied_at>``:
    ``seen_at`` when the loop's ``check_order`` first gave the new answer, ``applied_at``
    when the switch's listener last ran (for ``applied_version``). It runs until stdin
    closes (the bench exits, or dies).
    """
    backend = backend_from(spec)
    switch = KillSwitch(backend)
    # The listener runs after the state moved: the loop may see a change before it.
    applied = (switch.current.version, time.monotonic())

    def on_change(_state: TradingState, change: StateChange) -> None:
        nonlocal applied
        applied = (change.version, time.monotonic())

    switch.add_listener(on_change)
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    reported: tuple[bool, int, int] | None = None
    refused_before: bool | None = None
    seen_at = 0.0
    print(f"READY {switch.current.version} {time.monotonic()!r} 0 0.0", flush=True)
    while not stop.is_set():
        refused = not switch.check_order(OrderSide.BUY, 1.0, 0.0).allowed
        if refused != refused_before:
            seen_at = time.monotonic()
            refused_before = refused
        # Read after the decision: reported again once the version or the listener catches up.
        applied_version, applied_at = applied
        now_reported = (refused, switch.current.version, applied_version)
        if now_reported != reported:
            reported = now_reported
            kind = "REFUSING" if refused else "TRADING"
            line = f"{kind} {reported[1]} {seen_at!r} {applied_version} {applied_at!r}"
            print(line, flush=True)
        if check_interval_s:
            time.sleep(check_interval_s)
    switch.close()
    backend.close()


# -- processes ------------------------------------------------------------------------------


def _stop(proc: subprocess.Popen[bytes] | subprocess.Popen[str]) -> None:
    """Terminate ``proc``; kill it if it has not exited within 15 s."""
    if proc.poll() is None:
        proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def private_redis() -> Iterator[str]:
    """Start a throwaway redis-server; yield its URL."""
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="tw-bench-redis-") as directory:
        argv = [REDIS_BINARY, "--port", str(port), "--bind", HOST, "--save", ""]
        argv += ["--appendonly", "no", "--dir", directory]
        server = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 10
            while True:
                with (
                    contextlib.suppress(OSError),
                    socket.create_connection((HOST, port), timeout=0.5) as conn,
                ):
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        break
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("redis-server did not start")
                time.sleep(0.02)
            yield f"redis://{HOST}:{port}/0"
        finally:
            _stop(server)


@dataclass(frozen=True)
class Warden:
    """A running ``tradewarden up`` and an operator API key for it."""

    url: str
    api_key: str
    pid: int


@contextlib.contextmanager
def warden(directory: Path, backend: str, redis_url: str | None, prefix: str) -> Iterator[Warden]:
    """Run ``tradewarden up`` with the ``control`` back end given; stop it on exit."""
    directory.mkdir()
    state_file = directory / "trading_state.db"
    config = directory / "tradewarden.yaml"
    config.write_text(
        "version: 1\ncontrol:\n"
        f"  trading_state_backend: {backend}\n"
        f"  trading_state_file: {state_file}\n"
        f"  trading_state_prefix: {prefix}\n",
        encoding="utf-8",
    )
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(_SCRUBBED_PREFIXES) and name not in _SCRUBBED_NAMES
    }
    env.update(TRADEWARDEN_DATA_DIR=str(directory), TRADEWARDEN_LOG_LEVEL="WARNING")
    if redis_url is not None:
        env["REDIS_URL"] = redis_url
    port = _free_port()
    command = [sys.executable, "-m", "tradewarden", "up", "--config", str(config)]
    command += ["--host", HOST, "--port", str(port)]
    log = directory / "warden.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=sink, stderr=sink)
    url = f"http://{HOST}:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the warden exited with {proc.returncode}:\n{log.read_text()}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{url}/health", timeout=1.0).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"the warden did not answer /health:\n{log.read_text()}")
            time.sleep(0.2)
        create = [sys.executable, "-m", "tradewarden", "apikey", "create", "bench-operator"]
        done = subprocess.run(
            [*create, "--role", "operator"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=START_TIMEOUT_S,
            check=True,
        )
        key = done.stdout.strip().splitlines()[-1].strip()
        if not key.startswith("tw_"):
            raise RuntimeError(f"unexpected `apikey create` output:\n{done.stdout}")
        yield Warden(url, key, proc.pid)
    finally:
        _stop(proc)


def _reader(stream: IO[str], index: int, out: queue.Queue[tuple[int, str]]) -> None:
    for line in stream:
        out.put((index, line.strip()))


@dataclass
class Bots:
    """``count`` bot processes on one back end, and the lines they report."""

    spec: str
    count: int
    check_interval_s: float
    procs: list[subprocess.Popen[str]] = field(default_factory=list)
    lines: queue.Queue[tuple[int, str]] = field(default_factory=queue.Queue)

    def start(self) -> None:
        """Start the bots; return once each has loaded the state and is checking."""
        command = [sys.executable, __file__, "--bot", self.spec]
        command += ["--check-interval-ms", repr(self.check_interval_s * 1e3)]
        for index in range(self.count):
            proc = subprocess.Popen(
                command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
            )
            self.procs.append(proc)
            assert proc.stdout is not None
            args = (proc.stdout, index, self.lines)
            threading.Thread(target=_reader, args=args, daemon=True).start()
        self.wait_for("READY", 0)

    def wait_for(self, expected: str, version: int) -> tuple[float, float]:
        """Return the latest (seen_at, applied_at) once every bot reported ``expected``."""
        seen: dict[int, tuple[float, float]] = {}
        deadline = time.monotonic() + LINE_TIMEOUT_S
        while len(seen) < self.count:
            try:
                index, line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                missing = sorted(set(range(self.count)) - set(seen))
                raise RuntimeError(f"bots {missing} never reported {expected} v{version}") from None
            kind, got, seen_at, applied_version, applied_at = line.split()
            current = int(got) >= version and int(applied_version) >= version
            if kind == expected and current and index not in seen:
                seen[index] = (float(seen_at), float(applied_at))
        return max(s for s, _ in seen.values()), max(a for _, a in seen.values())

    def stop(self) -> None:
        """Close every bot's stdin (it then exits); terminate any that does not."""
        for proc in self.procs:
            with contextlib.suppress(OSError):
                assert proc.stdin is not None
                proc.stdin.close()
        deadline = time.monotonic() + 15
        for proc in self.procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _stop(proc)
            if proc.stdout is not None:
                proc.stdout.close()


# -- check cost -----------------------------------------------------------------------------


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


# -- propagation ----------------------------------------------------------------------------


@dataclass
class Series:
    """Milliseconds per round for one way of halting."""

    halt: list[float] = field(default_factory=list)  # until the last bot refused
    applied: list[float] = field(default_factory=list)  # until the last listener ran
    resume: list[float] = field(default_factory=list)  # until the last bot traded again
    call: list[float] = field(default_factory=list)  # the halt request or write itself


def propagation(
    spec: str, server: Warden, bots: Bots, rounds: int
) -> tuple[Series, Series, Series]:
    """Halt and resume ``rounds`` times over the API and directly; return (api, direct, cold).

    ``cold`` is the first round of each (the first request on a new connection to a warden
    that has served nothing but ``/health``), measured and kept out of the other two.
    """
    api, direct, cold = Series(), Series(), Series()
    backend = backend_from(spec)
    operator = KillSwitch(backend, watch=False)
    headers = {"X-API-Key": server.api_key}
    halt_body = {"reason": "bench", "message": "propagation"}
    resume_body = {"reason": "bench", "to": "ACTIVE"}

    def over_api(path: str, body: dict[str, str]) -> tuple[float, float, int]:
        started = time.monotonic()
        response = http.post(path, json=body, headers=headers)
        answered = time.monotonic()
        if response.status_code != 200 or not response.json()["changed"]:
            raise RuntimeError(f"POST {path}: {response.status_code} {response.text}")
        return started, answered, int(response.json()["state"]["version"])

    def directly(halt: bool) -> tuple[float, float, int]:
        started = time.monotonic()
        if halt:
            change = operator.halt("operator:bench", "propagation")
        else:
            change = operator.resume("operator:bench", "propagation")
        return started, time.monotonic(), change.version

    timeout = httpx.Timeout(REQUEST_TIMEOUT_S)
    with httpx.Client(base_url=server.url, timeout=timeout) as http:
        try:
            for number in range(-1, rounds):
                # Alternate which goes first; a random pause before each change, so changes
                # do not land in step with the file back end's polls.
                if number < 0:
                    order = [(cold, True), (cold, False)]
                elif number % 2 == 0:
                    order = [(api, True), (direct, False)]
                else:
                    order = [(direct, False), (api, True)]
                for series, through_api in order:
                    time.sleep(random.uniform(0.0, 0.2))
                    if through_api:
                        started, answered, version = over_api("/api/kill-switch", halt_body)
                    else:
                        started, answered, version = directly(halt=True)
                    seen_at, applied_at = bots.wait_for("REFUSING", version)
                    series.halt.append((seen_at - started) * 1e3)
                    series.applied.append((applied_at - started) * 1e3)
                    series.call.append((answered - started) * 1e3)
                    time.sleep(random.uniform(0.0, 0.2))
                    if through_api:
                        started, _, version = over_api("/api/kill-switch/resume", resume_body)
                    else:
                        started, _, version = directly(halt=False)
                    seen_at, _ = bots.wait_for("TRADING", version)
                    series.resume.append((seen_at - started) * 1e3)
        finally:
            backend.close()
    return api, direct, cold


# -- report ---------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """Return the q-th percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _row(label: str, values: list[float], target: str = "") -> str:
    cells = [percentile(values, q) for q in (50, 90, 99, 100)]
    line = f"  {label:<34}" + "".join(f"{cell:>9.1f}" for cell in cells)
    return f"{line}   {target}".rstrip()


def _print_propagation(
    name: str, target_ms: float, api: Series, direct: Series, cold: Series
) -> None:
    p99_api, p99_direct = percentile(api.halt, 99), percentile(direct.halt, 99)
    verdict = "met" if p99_api < target_ms else "NOT met"
    print(f"\n{name}, {len(api.halt)} rounds each way")
    print(
        f"  {'ms from the halt until the last bot':<34}"
        + "".join(f"{label:>9}" for label in ("p50", "p90", "p99", "max"))
    )
    print(_row("API halt -> all refuse", api.halt, f"target p99 {target_ms:.0f} ms: {verdict}"))
    print(_row("  POST /api/kill-switch answered", api.call))
    print(_row("  all listeners applied", api.applied))
    print(_row("API resume -> all trade", api.resume))
    print(_row("direct halt -> all refuse (peer)", direct.halt))
    print(_row("  the back-end write returned", direct.call))
    print(_row("  all listeners applied", direct.applied))
    print(_row("direct resume -> all trade", direct.resume))
    ratio = statistics.median(api.halt) / statistics.median(direct.halt)
    print(f"  API / direct: p50 {ratio:.2f}x, p99 {p99_api / p99_direct:.2f}x")
    # Rounds run API first, then direct, in the cold round: cold.halt[0] is the API halt.
    print(
        f"  first round, not counted: API halt {cold.halt[0]:.1f} ms (answered in"
        f" {cold.call[0]:.1f} ms), direct halt {cold.halt[1]:.1f} ms"
    )


def _terminate(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds the context managers: every process stopped


def main() -> None:
    """Run both measurements and print the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bot", help=argparse.SUPPRESS)
    parser.add_argument("--bots", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=200, help="halts per way per back end")
    parser.add_argument(
        "--check-interval-ms",
        type=float,
        default=1.0,
        help="a bot's pause between two checks (0: a busy spin)",
    )
    parser.add_argument("--quick", action="store_true", help="fewer iterations and 10 rounds")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)  # each change is a WARNING line otherwise
    check_interval_s = args.check_interval_ms / 1e3
    if args.bot:
        bot(args.bot, check_interval_s)
        return
    signal.signal(signal.SIGTERM, _terminate)
    rounds = 10 if args.quick else args.rounds
    affinity = len(os.sched_getaffinity(0))
    print(f"{affinity} CPUs ({_cpu_model()}), Python {platform.python_version()}")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with (
        tempfile.TemporaryDirectory(prefix="tw-bench-ks-") as tmp,
        private_redis() as redis_url,
    ):
        directory = Path(tmp)
        rows = check_costs(redis_url, directory, args.quick)
        ours = dict(rows)["tradewarden kill_switch.active"]
        print("\ncheck cost (best of 7)                 ns/check   x tradewarden")
        for name, ns in rows:
            print(f"  {name:<36} {ns:>9.1f}   {ns / ours:>8.1f}")
        verdict = "met" if ours < TARGET_CHECK_NS else "NOT met"
        print(f"  target under {TARGET_CHECK_NS:.0f} ns: {verdict}")
        print(
            f"\npropagation: {args.bots} bots checking every {args.check_interval_ms:g} ms;"
            f" {rounds} halts and resumes through the API and {rounds} directly, per back end"
        )
        prefix = f"bench-ks-{os.getpid()}:trading"
        for name, kind, target in (
            ("redis", "redis", TARGET_REDIS_P99_MS),
            ("file (SQLite, 100 ms poll)", "file", TARGET_FILE_P99_MS),
        ):
            data_dir = directory / kind
            with contextlib.ExitStack() as stack:
                url = redis_url if kind == "redis" else None
                server = stack.enter_context(warden(data_dir, kind, url, prefix))
                spec = (
                    f"redis:{redis_url}|{prefix}"
                    if kind == "redis"
                    else f"sqlite:{data_dir / 'trading_state.db'}"
                )
                bots = Bots(spec, args.bots, check_interval_s)
                stack.callback(bots.stop)
                bots.start()
                api, direct, cold = propagation(spec, server, bots, rounds)
            _print_propagation(name, target, api, direct, cold)
    print(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
