"""CPU per HTTP check: the warden's http kind on aiohttp against the same probe on httpx.

Why the ``http`` monitor kind runs on aiohttp: the CPU one check costs decides how many
monitors one core holds (bench/probes.py). Each client runs in a fresh process pinned to one
CPU, on uvloop, sending ``--requests`` GETs with ``--concurrency`` in flight through one
pooled client against the always-healthy loopback target (bench/_probe_targets.py, on the
other CPU), after a warm-up of 500 requests; the figure is the process's CPU time per request.
The peer is httpx as the warden used it before (``client.stream`` and ``aiter_bytes``).

    .venv/bin/python bench/http_clients.py [--requests 6000] [--concurrency 64] [--rounds 3]

Everything runs on 127.0.0.1 and stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
HOST = "127.0.0.1"


async def _run(client_name: str, port: int, requests: int, concurrency: int) -> float:
    """Return CPU seconds per request of ``requests`` GETs (the warm-up excluded)."""
    url = f"http://{HOST}:{port}/check"
    close: Any
    if client_name == "httpx":
        import httpx

        client = httpx.AsyncClient(limits=httpx.Limits(max_connections=256))
        close = client.aclose

        async def one() -> None:
            async with client.stream("GET", url, timeout=10) as response:
                async for _ in response.aiter_bytes():
                    pass
            assert response.status_code == 200

    else:
        import aiohttp

        from tradewarden.probes import new_web_session

        session = new_web_session(256)
        close = session.close
        timeout = aiohttp.ClientTimeout(sock_connect=10, sock_read=10)

        async def one() -> None:
            async with session.get(url, timeout=timeout) as response:
                async for _ in response.content.iter_any():
                    pass
            assert response.status == 200

    limit = asyncio.Semaphore(concurrency)

    async def limited() -> None:
        async with limit:
            await one()

    await asyncio.gather(*(limited() for _ in range(500)))
    started = time.process_time()
    await asyncio.gather(*(limited() for _ in range(requests)))
    cpu_s = time.process_time() - started
    await close()
    return cpu_s / requests


def _trial(args: argparse.Namespace) -> int:
    os.sched_setaffinity(0, {args.cpu})
    import uvloop

    per_request = uvloop.run(_run(args.trial, args.port, args.requests, args.concurrency))
    print(f"RESULT {per_request}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=6000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--trial", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--cpu", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.trial:
        return _trial(args)
    if min(args.requests, args.concurrency, args.rounds) <= 0:
        parser.error("--requests, --concurrency and --rounds must be > 0")
    target = subprocess.Popen(
        [sys.executable, str(BENCH / "_probe_targets.py"), "--ports", "1", "--cpu", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert target.stdout is not None
        line = target.stdout.readline().split()
        if not line or line[0] != "ready":
            print("the target did not start", file=sys.stderr)
            return 1
        port = int(line[1])
        results: dict[str, list[float]] = {"aiohttp": [], "httpx": []}
        for _ in range(args.rounds):  # interleaved, so drift of the machine hits both
            for name, samples in results.items():
                command = [sys.executable, __file__, "--trial", name, "--port", str(port)]
                command += ["--requests", str(args.requests)]
                command += ["--concurrency", str(args.concurrency)]
                out = subprocess.run(
                    command,
                    capture_output=True,
                    text=True,
                    check=True,
                    timeout=600,
                ).stdout
                samples.append(float(out.split("RESULT ")[1]))
    finally:
        target.terminate()
        target.wait(timeout=10)
    print(f"{args.requests} GETs, {args.concurrency} in flight, {args.rounds} rounds, one core")
    for name, samples in results.items():
        print(
            f"  {name:8} CPU per request: median {statistics.median(samples) * 1e6:7.0f} µs"
            f"  (rounds: {', '.join(f'{s * 1e6:.0f}' for s in samples)})"
        )
    ratio = statistics.median(results["aiohttp"]) / statistics.median(results["httpx"])
    print(f"ratio aiohttp / httpx (the peer): {ratio:.3f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
