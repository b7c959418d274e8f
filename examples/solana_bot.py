"""An example Solana bot wired to the guard. It never places a real order.

Each iteration takes a "signal", reads the slot and a wallet balance through the RPC pool
(ranked endpoints, a breaker each, failover), asks a quote through a circuit breaker,
decides a simulated order with the kill switch's ``check_order`` and records the outcome
in the seeds' metrics. ``/metrics`` and ``/health`` are served on 127.0.0.1; a heartbeat
goes to the warden if one is named (its token from ``$TRADEWARDEN_HEARTBEAT_TOKEN`` or
``$TRADEWARDEN_HEARTBEAT_TOKEN_FILE``, never the command line). It stops by itself after
``--iterations`` or ``--duration-s``.

    python examples/solana_node.py            # prints http://127.0.0.1:PORT/
    python examples/solana_bot.py --rpc local=http://127.0.0.1:PORT/ --iterations 10

Halt it from another shell, with the same state file, and watch orders being refused::

    python -c "from tradewarden.guard import KillSwitch, SQLiteBackend; \
KillSwitch(SQLiteBackend('.tradewarden/example-bot.db'), watch=False).halt('me', 'test')"
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import sys
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, write_to_textfile

from tradewarden.guard import (
    AsyncHeartbeatClient,
    BreakerConfig,
    BreakerMetrics,
    CircuitBreaker,
    CircuitOpenError,
    Endpoint,
    HeartbeatConfig,
    KillSwitch,
    MetricsServer,
    OrderSide,
    OrderStatus,
    PoolConfig,
    RpcError,
    RpcPool,
    SQLiteBackend,
    TradingMetrics,
    register_trading_metrics,
)
from tradewarden.guard.heartbeat import register_heartbeat_metrics
from tradewarden.guard.rpc import BreakerPort, CircuitBreakerPort

log = logging.getLogger("example.solana_bot")

LAMPORTS_PER_SOL = 1_000_000_000
DEFAULT_WALLET = "9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM"  # a public key, never a secret
SIGNAL_SOURCE = "example"


@dataclass
class Tally:
    """What the bot did, printed as one JSON line at the end."""

    iterations: int = 0
    filled: int = 0
    rejected: int = 0
    errors: int = 0
    denials: dict[str, int] = field(default_factory=dict)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rpc",
        action="append",
        required=True,
        metavar="NAME=URL",
        help="an RPC endpoint, in priority order (repeat: the first is tier 1)",
    )
    parser.add_argument("--wallet", default=f"main={DEFAULT_WALLET}", metavar="NAME=PUBKEY")
    parser.add_argument("--state-file", type=Path, default=Path(".tradewarden/example-bot.db"))
    parser.add_argument("--metrics-port", type=int, default=9108, help="0: any free port")
    parser.add_argument("--metrics-file", type=Path, help="write the metrics here at the end")
    parser.add_argument(
        "--warden-url", help="ping this warden's heartbeat, e.g. http://127.0.0.1:8000"
    )
    parser.add_argument("--heartbeat", default="example-bot", help="the heartbeat's name")
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("--duration-s", type=float, help="stop after this long (whichever first)")
    parser.add_argument("--interval-s", type=float, default=1.0)
    parser.add_argument("--max-notional", type=float, default=250.0)
    return parser.parse_args(argv)


def endpoints(specs: Sequence[str]) -> list[Endpoint]:
    found = []
    for tier, spec in enumerate(specs, start=1):
        name, sep, url = spec.partition("=")
        if not sep:
            raise SystemExit(f"--rpc {spec!r}: expected NAME=URL")
        found.append(Endpoint(name, url, priority=tier))
    return found


@contextlib.asynccontextmanager
async def heartbeat_run(client: AsyncHeartbeatClient | None) -> AsyncIterator[None]:
    if client is None:
        yield
        return
    async with client.run():
        yield


class ExampleBot:
    def __init__(self, args: argparse.Namespace, registry: CollectorRegistry) -> None:
        self.args = args
        self.metrics = TradingMetrics(registry, signal_sources=[SIGNAL_SOURCE])
        self.breaker_metrics = BreakerMetrics(registry)
        # A stand-in for a quote service (Jupiter, ...): its own breaker, separate from the
        # RPC endpoints' breakers, so a failing quote API does not take the RPC pool down.
        self.quotes = CircuitBreaker("quote_api", BreakerConfig(failure_threshold=3, timeout_s=10))
        self.breaker_metrics.track(self.quotes)
        self.pool = RpcPool(
            endpoints(args.rpc),
            config=PoolConfig(request_timeout_s=2.0, deadline_s=5.0, sample_interval_s=2.0),
            breaker_factory=self.endpoint_breaker,
            registry=registry,
        )
        args.state_file.parent.mkdir(parents=True, exist_ok=True)
        self.backend = SQLiteBackend(args.state_file)
        self.kill_switch = KillSwitch(self.backend)
        register_trading_metrics(self.kill_switch, registry)
        self.wallet_name, _, self.wallet = args.wallet.partition("=")
        self.position = 0.0
        self.tally = Tally()

    def endpoint_breaker(self, name: str) -> BreakerPort:
        breaker = CircuitBreaker(f"rpc_{name}", BreakerConfig(failure_threshold=3, timeout_s=10))
        self.breaker_metrics.track(breaker)
        return CircuitBreakerPort(breaker)

    async def iteration(self, number: int) -> None:
        with self.metrics.processing_signal(SIGNAL_SOURCE):
            slot: int = await self.pool.request("getSlot")
            balance: dict[str, Any] = await self.pool.request("getBalance", [self.wallet])
            self.metrics.set_wallet_balance(self.wallet_name, balance["value"] / LAMPORTS_PER_SOL)
            quote = await self.quotes.acall(self.pool.request, "getLatestBlockhash")
        # A toy strategy: alternate sides, sizes from the slot.
        side = OrderSide.BUY if number % 2 == 0 else OrderSide.SELL
        notional = 50.0 + (slot % 250)
        decision = self.kill_switch.check_order(
            side, notional, self.position, max_notional=self.args.max_notional
        )
        if not decision:
            reason = str(decision.reason)
            self.metrics.order_rejected()
            self.tally.rejected += 1
            self.tally.denials[reason] = self.tally.denials.get(reason, 0) + 1
            log.info("order refused: %s %s (%s)", side, notional, reason)
            return
        with self.metrics.timed_order(OrderStatus.FILLED), self.metrics.timed_swap():
            # Simulated: a real bot would build, sign and send a swap here, with the
            # blockhash from the quote step, through the pool and a RetryPolicy.
            _ = quote["value"]["blockhash"]
            await asyncio.sleep(0)
        self.position += notional if side is OrderSide.BUY else -notional
        self.tally.filled += 1

    async def run(self, heartbeat: AsyncHeartbeatClient | None) -> Tally:
        deadline = (
            time.monotonic() + self.args.duration_s if self.args.duration_s is not None else None
        )
        await self.pool.start()
        for number in range(self.args.iterations):
            if deadline is not None and time.monotonic() >= deadline:
                break
            self.tally.iterations += 1
            try:
                async with heartbeat_run(heartbeat):
                    await self.iteration(number)
            except (RpcError, CircuitOpenError) as exc:
                self.tally.errors += 1
                log.warning("iteration %d failed: %s", number, exc)
            if number + 1 < self.args.iterations:
                await asyncio.sleep(self.args.interval_s)
        return self.tally

    async def aclose(self) -> None:
        await self.pool.aclose()
        self.kill_switch.close()
        self.backend.close()


async def main_async(args: argparse.Namespace) -> int:
    registry = CollectorRegistry()
    bot = ExampleBot(args, registry)
    heartbeat = (
        AsyncHeartbeatClient(HeartbeatConfig(url=args.warden_url, name=args.heartbeat))
        if args.warden_url
        else None
    )
    if heartbeat is not None:
        register_heartbeat_metrics(registry, heartbeat)

    def healthy() -> bool:
        return not bot.kill_switch.unreadable

    server = MetricsServer(registry, port=args.metrics_port, health=healthy)
    server.start()
    print(json.dumps({"metrics": f"{server.url}/metrics"}), flush=True)
    try:
        tally = await bot.run(heartbeat)
    finally:
        if heartbeat is not None:
            await heartbeat.aclose(timeout_s=5)
        await bot.aclose()
        if args.metrics_file is not None:
            write_to_textfile(str(args.metrics_file), registry)
        server.close()
    summary = {
        "iterations": tally.iterations,
        "filled": tally.filled,
        "rejected": tally.rejected,
        "errors": tally.errors,
        "denials": tally.denials,
        "state": bot.kill_switch.state.name,
        "heartbeat": None if heartbeat is None else heartbeat.stats.sent,
    }
    print(json.dumps(summary), flush=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # httpx logs every request's URL at INFO, and an RPC provider's URL carries its API key.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    return asyncio.run(main_async(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
