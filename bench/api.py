"""Throughput and latency of the warden's ``GET /health`` and ``GET /status`` on one worker.

The named peer is a bare FastAPI app with the same ``/health`` route (bench/_peer_app.py) on
the same stack: one uvicorn worker, uvloop, httptools, no access log. Both run in the same
invocation, on the same machine, under the same load generator; the ratios warden / peer
show what the warden's middleware (request ids, metrics, body limit) and auth cost over the
framework floor. Target: ``/health`` p99 under 5 ms at 1,000 requests/s.

    .venv/bin/python bench/api.py [--duration 10] [--rate 1000] [--quick] [--json out.json]

Everything runs on 127.0.0.1 and stops by itself; both servers are terminated on exit.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import math
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from _loadgen import LoadResult, Target, closed_loop, fixed_rate, run, run_wrk, wrk_available

HOST = "127.0.0.1"
ROOT = Path(__file__).resolve().parent.parent
TARGET_RATE_RPS = 1000.0
TARGET_P99_MS = 5.0
# Inherited settings that could point the warden at another database, a collector or Sentry:
# the bench runs it on embedded defaults only, and sends nothing off the loopback.
_SCRUBBED_PREFIXES = ("TRADEWARDEN_", "OTEL_", "SENTRY_")
_SCRUBBED_NAMES = frozenset({"DATABASE_URL", "REDIS_URL"})


@dataclass(frozen=True)
class Server:
    """A running server under test."""

    name: str
    port: int
    pid: int


@dataclass(frozen=True)
class Row:
    """One measured scenario."""

    server: str
    path: str
    round_number: int
    result: LoadResult
    # The server's CPU time (user + system) over the run, per response it sent.
    cpu_us_per_request: float | None

    @property
    def label(self) -> str:
        return f"{self.server} GET {self.path}"


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, help="seconds measured per run (10)")
    parser.add_argument("--warmup", type=float, help="seconds discarded first (2)")
    parser.add_argument("--rate", type=float, default=TARGET_RATE_RPS, help="fixed rate, req/s")
    parser.add_argument(
        "--status-rates",
        type=_rates,
        default=(200.0, 100.0),
        help="lower fixed rates also tried for /status, comma-separated (default 200,100)",
    )
    parser.add_argument("--connections", type=int, default=32, help="keep-alive connections")
    parser.add_argument("--repeat", type=int, help="rounds; the median is shown (3)")
    parser.add_argument(
        "--quick", action="store_true", help="smoke test: defaults to one round of 2 s runs"
    )
    parser.add_argument("--no-wrk", action="store_true", help="max throughput without wrk")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args(argv)
    defaults = (2.0, 0.5, 1) if args.quick else (10.0, 2.0, 3)
    for name, default in zip(("duration", "warmup", "repeat"), defaults, strict=True):
        if getattr(args, name) is None:
            setattr(args, name, default)
    if min(args.duration, args.rate, args.connections, args.repeat) <= 0 or args.warmup < 0:
        parser.error("--duration, --rate, --connections and --repeat must be positive")
    return args


def _rates(text: str) -> tuple[float, ...]:
    rates = tuple(float(part) for part in text.split(",") if part.strip())
    if any(rate <= 0 for rate in rates):
        raise argparse.ArgumentTypeError("rates must be positive")
    return rates


# -- servers --------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _server_env(**extra: str) -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(_SCRUBBED_PREFIXES) and name not in _SCRUBBED_NAMES
    }
    return {**env, **extra}


def _get_status(port: int, path: str) -> int:
    conn = http.client.HTTPConnection(HOST, port, timeout=1.0)
    try:
        conn.request("GET", path)
        return conn.getresponse().status
    finally:
        conn.close()


@contextlib.contextmanager
def _serve(
    name: str, command: list[str], env: dict[str, str], port: int, log_dir: Path
) -> Iterator[Server]:
    """Start ``command``, wait until its /health answers 200, terminate it on exit."""
    log = log_dir / f"{name}.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=sink, stderr=sink)
    try:
        deadline = time.monotonic() + 60.0
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}:\n{log.read_text()}")
            with contextlib.suppress(OSError):
                if _get_status(port, "/health") == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not answer /health in 60 s:\n{log.read_text()}")
            time.sleep(0.2)
        yield Server(name, port, proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def _peer_command(port: int) -> list[str]:
    # The warden's stack: one worker, uvloop, httptools, no access log, no Server header.
    flags = "--workers 1 --loop uvloop --http httptools --no-access-log --no-server-header"
    app = ["--app-dir", "bench", "--factory", "_peer_app:create_app"]
    listen = ["--host", HOST, "--port", str(port), "--log-level", "warning"]
    return [sys.executable, "-m", "uvicorn", *app, *listen, *flags.split()]


def _cpu_s(pid: int) -> float | None:
    """Return the CPU seconds ``pid`` has used (Linux ``/proc``), or None elsewhere."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rpartition(")")[2].split()  # the command name may contain spaces
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _create_api_key(env: dict[str, str]) -> str:
    command = [sys.executable, "-m", "tradewarden", "apikey", "create", "bench", "--role", "viewer"]
    done = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=True
    )
    key = done.stdout.strip().splitlines()[-1].strip()
    if not key.startswith("tw_"):
        raise RuntimeError(f"unexpected `apikey create` output:\n{done.stdout}")
    return key


# -- measuring ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One scenario: a server, a URL, and a fixed rate (None: maximum throughput)."""

    server: Server
    target: Target
    rate_rps: float | None


def _cases(args: argparse.Namespace, warden: Server, peer: Server, key: str) -> list[Case]:
    health_peer = Target(HOST, peer.port, "/health")
    health_warden = Target(HOST, warden.port, "/health")
    status_warden = Target(HOST, warden.port, "/status", (("Authorization", f"Bearer {key}"),))
    endpoints = [(peer, health_peer), (warden, health_warden), (warden, status_warden)]
    cases = [Case(server, target, args.rate) for server, target in endpoints]
    cases += [Case(warden, status_warden, rate) for rate in args.status_rates if rate != args.rate]
    return cases + [Case(server, target, None) for server, target in endpoints]


def _run_case(case: Case, args: argparse.Namespace, use_wrk: bool) -> LoadResult:
    target, rate = case.target, case.rate_rps
    if rate is not None:
        return run(
            lambda: fixed_rate(
                target,
                rate_rps=rate,
                duration_s=args.duration,
                warmup_s=args.warmup,
                connections=args.connections,
            )
        )
    if use_wrk:
        # No warm-up of its own: the fixed-rate runs before it have warmed both servers.
        return run_wrk(target, duration_s=args.duration, connections=args.connections)
    return run(
        lambda: closed_loop(
            target, duration_s=args.duration, warmup_s=args.warmup, connections=args.connections
        )
    )


def _measure(args: argparse.Namespace, cases: list[Case]) -> list[Row]:
    """Run every case once per round; rounds interleave peer and warden so drift hits both."""
    use_wrk = wrk_available() and not args.no_wrk
    rows = []
    for round_number in range(1, args.repeat + 1):
        for case in cases:
            load = f"{case.rate_rps:g} req/s" if case.rate_rps else ("wrk" if use_wrk else "max")
            print(
                f"  round {round_number}/{args.repeat}: {case.server.name} GET {case.target.path}"
                f" at {load} ...",
                flush=True,
            )
            cpu_before = _cpu_s(case.server.pid)
            result = _run_case(case, args, use_wrk)
            cpu_after = _cpu_s(case.server.pid)
            cpu_us = None
            if cpu_before is not None and cpu_after is not None and result.answered:
                cpu_us = (cpu_after - cpu_before) / result.answered * 1e6
            rows.append(Row(case.server.name, case.target.path, round_number, result, cpu_us))
            time.sleep(1.0)  # let a backlog drain before the next run
    return rows


def _median_runs(rows: list[Row]) -> list[Row]:
    """Per scenario, the run with the median p99 (fixed rate) or median throughput (max)."""
    groups: dict[tuple[str, str, float | None], list[Row]] = {}
    for row in rows:
        groups.setdefault((row.server, row.path, row.result.target_rps), []).append(row)
    chosen = []
    for group in groups.values():
        ordered = sorted(group, key=_rank_key)
        chosen.append(ordered[len(ordered) // 2])
    return chosen


def _rank_key(row: Row) -> float:
    result = row.result
    return result.achieved_rps if result.target_rps is None else result.p99_ms


# -- reporting ------------------------------------------------------------------------------


def _machine() -> dict[str, Any]:
    cpu = platform.processor() or "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    versions = {}
    for package in ("fastapi", "starlette", "uvicorn", "uvloop", "httptools"):
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


def _find_row(rows: list[Row], server: str, path: str, rate: float | None) -> Row | None:
    """Return the run at fixed ``rate``, or the max-throughput run when ``rate`` is None."""
    for row in rows:
        if (row.server, row.path, row.result.target_rps) == (server, path, rate):
            return row
    return None


def _find(rows: list[Row], server: str, path: str, rate: float | None) -> LoadResult | None:
    row = _find_row(rows, server, path, rate)
    return row.result if row else None


def _cpu_ratio(rows: list[Row], path: str, rate: float) -> float:
    warden = _find_row(rows, "warden", path, rate)
    peer = _find_row(rows, "peer", "/health", rate)
    if warden is None or peer is None or not warden.cpu_us_per_request:
        return float("nan")
    if not peer.cpu_us_per_request:
        return float("nan")
    return warden.cpu_us_per_request / peer.cpu_us_per_request


def _ratios(every_run: list[Row], rate: float) -> list[dict[str, Any]]:
    """Return warden / peer per round (runs of one round sit side by side), and their median."""
    rounds = sorted({row.round_number for row in every_run})
    by_round = {n: [row for row in every_run if row.round_number == n] for n in rounds}
    ratios = []
    for path in ("/health", "/status"):
        throughput, p99, cpu = [], [], []
        for rows in by_round.values():
            cpu.append(_cpu_ratio(rows, path, rate))
            peer_max = _find(rows, "peer", "/health", None)
            peer_fixed = _find(rows, "peer", "/health", rate)
            warden_max = _find(rows, "warden", path, None)
            throughput.append(_ratio(warden_max, peer_max, "achieved_rps"))
            p99.append(_ratio(_find(rows, "warden", path, rate), peer_fixed, "p99_ms"))
        saturated = any(_saturated(_find(rows, "warden", path, rate)) for rows in by_round.values())
        ratios.append(
            {
                "warden": f"GET {path}",
                "peer": "GET /health",
                "throughput": statistics.median(throughput),
                "throughput_per_round": throughput,
                "p99_at_rate": statistics.median(p99),
                "p99_at_rate_per_round": p99,
                "cpu_per_request_at_rate": statistics.median(cpu),
                "cpu_per_request_at_rate_per_round": cpu,
                "rate_rps": rate,
                "warden_saturated_at_rate": saturated,
            }
        )
    return ratios


def _ratio(warden: LoadResult | None, peer: LoadResult | None, field: str) -> float:
    if warden is None or peer is None or not getattr(peer, field):
        return float("nan")
    return float(getattr(warden, field) / getattr(peer, field))


def _saturated(result: LoadResult | None) -> bool:
    """Return whether a fixed-rate run fell behind its schedule or lost requests."""
    if result is None or result.target_rps is None:
        return False
    behind = result.achieved_rps < 0.98 * result.target_rps
    return behind or result.errors > 0 or result.missed > 0


def _target(rows: list[Row], rate: float) -> dict[str, Any]:
    health = _find(rows, "warden", "/health", rate)
    met = (
        health is not None
        and rate >= TARGET_RATE_RPS
        and not _saturated(health)
        and health.p99_ms < TARGET_P99_MS
    )
    return {
        "goal": f"warden GET /health p99 < {TARGET_P99_MS:g} ms at {TARGET_RATE_RPS:g} req/s",
        "rate_rps": rate,
        "p99_ms": health.p99_ms if health else float("nan"),
        "met": met,
    }


def _print_table(shown: list[Row], every_run: list[Row]) -> None:
    header = (
        f"{'scenario':<20} {'load':<17} {'req/s':>9} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} "
        f"{'max ms':>8} {'errors':>6} {'missed':>6} {'lag ms':>7} {'cpu us':>7}  rounds"
    )
    print(header)
    print("-" * len(header))
    for row in shown:
        r = row.result
        load = _load(r)
        lag = "-" if r.send_lag_p99_ms is None else _number(r.send_lag_p99_ms)
        cpu = "-" if row.cpu_us_per_request is None else f"{row.cpu_us_per_request:.0f}"
        print(
            f"{row.label:<20} {load:<17} {r.achieved_rps:>9.1f} {r.p50_ms:>8.2f} {r.p90_ms:>8.2f} "
            f"{r.p99_ms:>8.2f} {r.max_ms:>8.2f} {r.errors:>6d} {r.missed:>6d} {lag:>7} {cpu:>7}  "
            f"{_spread(row, every_run)}{'  saturated' if _saturated(r) else ''}"
        )
    print("lag ms: p99 of actual minus scheduled send, the generator's own timing error")
    print("cpu us: the server's CPU time over the run (warm-up included) per response")
    for row in every_run:
        if row.result.error_kinds:
            kinds = ", ".join(f"{kind}: {n}" for kind, n in sorted(row.result.error_kinds.items()))
            print(f"errors in round {row.round_number}, {row.label} ({_load(row.result)}): {kinds}")


def _load(result: LoadResult) -> str:
    return f"{result.target_rps:g}/s" if result.target_rps is not None else f"max ({result.mode})"


def _spread(shown: Row, every_run: list[Row]) -> str:
    """Return the range over rounds of the value the median was chosen by."""
    same = [
        _rank_key(row)
        for row in every_run
        if (row.server, row.path, row.result.target_rps)
        == (shown.server, shown.path, shown.result.target_rps)
    ]
    unit = "req/s" if shown.result.target_rps is None else "ms p99"
    if len(same) < 2:
        return f"{len(same)}"
    return f"{len(same)}: {_number(min(same))}-{_number(max(same))} {unit}"


def _number(value: float) -> str:
    return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"


def _range(values: list[float]) -> str:
    return f" [{min(values):.2f}-{max(values):.2f}]" if len(values) > 1 else ""


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite(item) for item in value]
    return value


def _row_dict(row: Row) -> dict[str, Any]:
    return {
        "server": row.server,
        "path": row.path,
        "round": row.round_number,
        "server_cpu_us_per_request": row.cpu_us_per_request,
        **row.result.as_dict(),
    }


def _measure_servers(args: argparse.Namespace) -> list[Row]:
    """Start the warden and the peer, run every round against both, stop them."""
    warden_port, peer_port = _free_port(), _free_port()
    with tempfile.TemporaryDirectory(prefix="tw-bench-") as tmp, contextlib.ExitStack() as stack:
        data_dir = Path(tmp)
        env = _server_env(TRADEWARDEN_DATA_DIR=str(data_dir), TRADEWARDEN_LOG_LEVEL="WARNING")
        warden = [sys.executable, "-m", "tradewarden", "up", "--host", HOST]
        warden += ["--port", str(warden_port)]
        warden_server = stack.enter_context(_serve("warden", warden, env, warden_port, data_dir))
        peer = _peer_command(peer_port)
        peer_server = stack.enter_context(_serve("peer", peer, _server_env(), peer_port, data_dir))
        api_key = _create_api_key(env)
        return _measure(args, _cases(args, warden_server, peer_server, api_key))


def _print_summary(args: argparse.Namespace, shown: list[Row], every_run: list[Row]) -> None:
    print(f"\nmedian of {args.repeat} round(s) per scenario:")
    _print_table(shown, every_run)
    print(
        "\nratios, warden / peer (peer = bare FastAPI GET /health, same stack, same run;"
        " median of per-round ratios, range in brackets):"
    )
    for ratio in _ratios(every_run, args.rate):
        p99 = f"{ratio['p99_at_rate']:.2f}x{_range(ratio['p99_at_rate_per_round'])}"
        if ratio["warden_saturated_at_rate"]:
            p99 = "n/a (warden saturated at this rate)"
        throughput = f"{ratio['throughput']:.2f}x{_range(ratio['throughput_per_round'])}"
        cpu = f"{ratio['cpu_per_request_at_rate']:.2f}x"
        cpu += _range(ratio["cpu_per_request_at_rate_per_round"])
        print(
            f"  {ratio['warden']:<12} throughput {throughput:<18} "
            f"server CPU per request {cpu:<18} p99 at {args.rate:g}/s {p99}"
        )
    target = _target(shown, args.rate)
    verdict = "MET" if target["met"] else "MISSED"
    if args.rate < TARGET_RATE_RPS:
        verdict = f"not tested (this run used {args.rate:g} req/s)"
    print(f"\ntarget: {target['goal']}: {verdict} (p99 {target['p99_ms']:.2f} ms)")


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    machine = _machine()
    print(
        f"bench/api.py on {machine['cores']} cores, {machine['cpu']}, "
        f"Python {machine['python']}, load {machine['loadavg_1m_at_start']}, {machine['date']}"
    )
    print(
        f"{args.repeat} round(s) of {args.warmup:g} s warm-up + {args.duration:g} s per scenario,"
        f" {args.connections} connections; warden with TRADEWARDEN_LOG_LEVEL=WARNING"
    )
    every_run = _measure_servers(args)
    shown = _median_runs(every_run)
    _print_summary(args, shown, every_run)
    # Other work on the machine skews every number: the load average brackets the run.
    machine["loadavg_1m_at_end"] = round(os.getloadavg()[0], 2)
    print(f"load average (1 min): {machine['loadavg_1m_at_start']} at start, ", end="")
    print(f"{machine['loadavg_1m_at_end']} at end")
    if args.json:
        report = {
            "benchmark": "bench/api.py",
            "machine": machine,
            "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
            "median_runs": [_row_dict(row) for row in shown],
            "runs": [_row_dict(row) for row in every_run],
            "ratios": _ratios(every_run, args.rate),
            "target": _target(shown, args.rate),
        }
        args.json.write_text(json.dumps(_finite(report), indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
