"""Load generators for loopback HTTP benchmarks: open loop at a fixed rate, closed loop, wrk.

The fixed-rate generator avoids coordinated omission: requests follow a schedule, and a
request that waits for a free connection is timed from its *scheduled* send time, so a
stalled server shows up as latency instead of as fewer requests. A request whose connection
was idle is timed from its actual send: the event loop's timers are millisecond-grained, and
that jitter is the generator's, not the server's (it is reported as ``send_lag_p99_ms``).

The clients speak raw HTTP/1.1 over keep-alive asyncio streams (no httpx) to keep their own
cost low on a two-core machine, where the generator shares the CPU with the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import re
import shutil
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = [
    "LoadResult",
    "Target",
    "closed_loop",
    "fixed_rate",
    "parse_wrk",
    "percentile",
    "run",
    "run_wrk",
    "wrk_available",
]

# A fixed-rate run still issuing this long after its schedule ends has fallen behind for
# good: the remaining requests are counted as missed instead of sent.
_GRACE_S = 5.0


@dataclass(frozen=True)
class Target:
    """One URL on the loopback, with optional extra request headers."""

    host: str
    port: int
    path: str
    headers: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        # Benchmarks load servers on this machine only: refuse anything off the loopback.
        if self.host != "localhost" and not ipaddress.ip_address(self.host).is_loopback:
            raise ValueError(f"not a loopback address: {self.host}")

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}{self.path}"

    def request_bytes(self) -> bytes:
        lines = [f"GET {self.path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{name}: {value}" for name, value in self.headers]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


@dataclass(frozen=True)
class LoadResult:
    """What one load run measured; latencies in milliseconds."""

    mode: str
    target_rps: float | None
    achieved_rps: float
    ok: int
    errors: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    # By status code, or "no response" (refused, reset, timed out).
    error_kinds: dict[str, int] = field(default_factory=dict)
    # Fixed rate only: requests never sent because the schedule fell too far behind.
    missed: int = 0
    # Every response received, warm-up and errors included: what the server's CPU time served.
    answered: int = 0
    send_lag_p99_ms: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Return the nearest-rank percentile of already sorted values (nan when empty)."""
    if not sorted_values:
        return float("nan")
    # ceil(fraction * n), tolerant of float error: 0.99 * 100 is 99.00000000000001.
    rank = max(1, round(fraction * len(sorted_values) + 0.4999))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def _summary(
    mode: str,
    target_rps: float | None,
    achieved_rps: float,
    latencies_s: list[float],
    errors: Counter[str],
) -> dict[str, Any]:
    ordered = sorted(latencies_s)
    return {
        "mode": mode,
        "target_rps": target_rps,
        "achieved_rps": achieved_rps,
        "ok": len(ordered),
        "errors": errors.total(),
        "error_kinds": dict(errors),
        "p50_ms": percentile(ordered, 0.50) * 1000,
        "p90_ms": percentile(ordered, 0.90) * 1000,
        "p99_ms": percentile(ordered, 0.99) * 1000,
        "max_ms": (ordered[-1] if ordered else float("nan")) * 1000,
    }


class _Connection:
    """One keep-alive HTTP/1.1 connection; one request in flight at a time."""

    def __init__(self, target: Target, timeout_s: float) -> None:
        self._target = target
        self._request = target.request_bytes()
        self._timeout_s = timeout_s
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self._reader, self._writer = await asyncio.open_connection(
            self._target.host, self._target.port
        )

    async def reopen(self) -> None:
        await self.close()
        async with asyncio.timeout(self._timeout_s):
            await self.open()

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError, TimeoutError):
                async with asyncio.timeout(self._timeout_s):
                    await self._writer.wait_closed()
            self._reader = self._writer = None

    async def request(self) -> int:
        """Send the request, read the whole response, return its status code."""
        async with asyncio.timeout(self._timeout_s):
            if self._reader is None or self._writer is None:
                await self.open()
            assert self._reader is not None
            assert self._writer is not None
            self._writer.write(self._request)
            head = await self._reader.readuntil(b"\r\n\r\n")
            length = _content_length(head)
            if length:
                await self._reader.readexactly(length)
        return int(head[9:12])


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    # Both servers under test answer with Content-Length; anything else is a protocol error.
    raise ValueError("response without Content-Length")


_REQUEST_FAILURES = (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError)


async def _open_all(target: Target, connections: int, timeout_s: float) -> list[_Connection]:
    pool = [_Connection(target, timeout_s) for _ in range(connections)]
    async with asyncio.timeout(timeout_s):
        await asyncio.gather(*(conn.open() for conn in pool))
    return pool


async def fixed_rate(
    target: Target,
    *,
    rate_rps: float,
    duration_s: float,
    warmup_s: float,
    connections: int,
    timeout_s: float = 5.0,
) -> LoadResult:
    """Send ``rate_rps`` requests a second on a fixed schedule; measure after the warm-up."""
    interval_s = 1.0 / rate_rps
    warmup_count = round(rate_rps * warmup_s)
    total = warmup_count + round(rate_rps * duration_s)
    pool = await _open_all(target, connections, timeout_s)
    start = time.perf_counter() + 0.05
    give_up_at = start + total * interval_s + _GRACE_S
    latencies: list[float] = []
    lags: list[float] = []
    errors: Counter[str] = Counter()
    next_index = answered = succeeded = 0
    last_done = start

    async def worker(conn: _Connection) -> None:
        nonlocal next_index, answered, succeeded, last_done
        while next_index < total:
            index = next_index
            next_index += 1
            scheduled = start + index * interval_s
            picked = time.perf_counter()
            if picked > give_up_at:
                return
            if picked < scheduled:
                await asyncio.sleep(scheduled - picked)
            sent = time.perf_counter()
            try:
                status = await conn.request()
            except _REQUEST_FAILURES:
                status = 0
                await _reopen_quietly(conn)
            done = time.perf_counter()
            answered += status > 0
            ok = 200 <= status < 300
            if ok:
                succeeded += 1
                last_done = max(last_done, done)
            if index < warmup_count:
                continue
            if not ok:
                errors[_kind(status)] += 1
                continue
            # Waiting for a free connection is the server's latency; timer jitter is not.
            latencies.append(done - (scheduled if picked >= scheduled else sent))
            lags.append(sent - scheduled)

    try:
        await asyncio.gather(*(worker(conn) for conn in pool))
    finally:
        await asyncio.gather(*(conn.close() for conn in pool))
    missed = (total - warmup_count) - len(latencies) - errors.total()
    # Over the whole run: a saturated server is still serving the warm-up's backlog well
    # into the measured window, so that window alone would understate its throughput.
    achieved_rps = succeeded / max(last_done - start, warmup_s + duration_s)
    summary = _summary("fixed-rate", rate_rps, achieved_rps, latencies, errors)
    lag_p99_ms = percentile(sorted(lags), 0.99) * 1000
    return LoadResult(**summary, missed=missed, answered=answered, send_lag_p99_ms=lag_p99_ms)


async def closed_loop(
    target: Target,
    *,
    duration_s: float,
    warmup_s: float,
    connections: int,
    timeout_s: float = 5.0,
) -> LoadResult:
    """Keep one request in flight per connection for the whole run: maximum throughput."""
    pool = await _open_all(target, connections, timeout_s)
    measure_from = time.perf_counter() + warmup_s
    stop_at = measure_from + duration_s
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    answered = 0

    async def worker(conn: _Connection) -> None:
        nonlocal answered
        while (sent := time.perf_counter()) < stop_at:
            try:
                status = await conn.request()
            except _REQUEST_FAILURES:
                status = 0
                await _reopen_quietly(conn)
            answered += status > 0
            if sent < measure_from:
                continue
            if 200 <= status < 300:
                latencies.append(time.perf_counter() - sent)
            else:
                errors[_kind(status)] += 1

    try:
        await asyncio.gather(*(worker(conn) for conn in pool))
    finally:
        await asyncio.gather(*(conn.close() for conn in pool))
    summary = _summary("closed-loop", None, len(latencies) / duration_s, latencies, errors)
    return LoadResult(**summary, answered=answered)


def _kind(status: int) -> str:
    return str(status) if status else "no response"


async def _reopen_quietly(conn: _Connection) -> None:
    try:
        await conn.reopen()
    except _REQUEST_FAILURES:
        # The next request on this connection opens it again, or fails and is counted.
        await conn.close()


def run(coroutine: Callable[[], Coroutine[Any, Any, LoadResult]]) -> LoadResult:
    """Run one load coroutine on uvloop (lighter than the default loop), if installed."""
    try:
        import uvloop

        factory: Callable[[], asyncio.AbstractEventLoop] | None = uvloop.new_event_loop
    except ImportError:
        factory = None
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(coroutine())


# -- wrk ------------------------------------------------------------------------------------

_WRK_PERCENTILE = re.compile(r"^\s*(50|90|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s)\s*$", re.MULTILINE)
_WRK_MAX = re.compile(r"^\s*Latency\s+\S+\s+\S+\s+([\d.]+)(us|ms|s)", re.MULTILINE)
_WRK_RPS = re.compile(r"^Requests/sec:\s+([\d.]+)", re.MULTILINE)
_WRK_TOTAL = re.compile(r"^\s*(\d+) requests in", re.MULTILINE)
_WRK_NON_2XX = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
_WRK_SOCKET = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
_TO_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def run_wrk(target: Target, *, duration_s: float, connections: int) -> LoadResult:
    """Run ``wrk -t1`` (one thread: the server has the other core) and parse its report."""
    command = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(duration_s))}s", "--latency"]
    for name, value in target.headers:
        command += ["-H", f"{name}: {value}"]
    command.append(target.url)
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=duration_s + 30, check=True
    )
    return parse_wrk(done.stdout)


def parse_wrk(report: str) -> LoadResult:
    """Return the numbers of a ``wrk --latency`` report."""
    rps = _WRK_RPS.search(report)
    if rps is None:
        raise ValueError(f"unexpected wrk output:\n{report}")
    quantiles = {int(q): float(v) * _TO_MS[unit] for q, v, unit in _WRK_PERCENTILE.findall(report)}
    peak = _WRK_MAX.search(report)
    total = _WRK_TOTAL.search(report)
    non_2xx = _WRK_NON_2XX.search(report)
    socket = _WRK_SOCKET.search(report)
    bad_status = int(non_2xx.group(1)) if non_2xx else 0
    socket_errors = sum(int(n) for n in socket.groups()) if socket else 0
    kinds = {"non-2xx": bad_status, "socket": socket_errors}
    return LoadResult(
        mode="wrk",
        target_rps=None,
        achieved_rps=float(rps.group(1)),
        ok=(int(total.group(1)) if total else 0) - bad_status,
        answered=int(total.group(1)) if total else 0,
        errors=bad_status + socket_errors,
        error_kinds={kind: n for kind, n in kinds.items() if n},
        p50_ms=quantiles.get(50, float("nan")),
        p90_ms=quantiles.get(90, float("nan")),
        p99_ms=quantiles.get(99, float("nan")),
        max_ms=float(peak.group(1)) * _TO_MS[peak.group(2)] if peak else float("nan"),
    )
