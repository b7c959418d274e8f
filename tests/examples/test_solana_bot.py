"""The example bot, run as a process against the local Solana node and a real warden."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from guard.heartbeat._warden import TOKEN, TOKEN_ENV, serve_warden
from support.solana_node import SolanaNode
from tradewarden.auth import PasswordHasher
from tradewarden.clock import ManualClock
from tradewarden.config import Settings
from tradewarden.guard import KillSwitch, SQLiteBackend

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "solana_bot.py"
WALLET = "9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM"

pytestmark = pytest.mark.slow


async def run_bot(tmp_path: Path, node: SolanaNode, *args: str) -> tuple[dict[str, Any], str]:
    """Run the example to its end; return its summary line and its log."""
    env = {**os.environ, "TRADEWARDEN_HEARTBEAT_TOKEN": TOKEN, "LOG_LEVEL": "DEBUG"}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(EXAMPLE),
        "--rpc",
        f"local={node.url()}",
        "--wallet",
        f"main={WALLET}",
        "--interval-s",
        "0.01",
        "--metrics-port",
        "0",
        "--metrics-file",
        str(tmp_path / "bot.prom"),
        "--state-file",
        str(tmp_path / "state.db"),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, stderr.decode()
    return json.loads(stdout.decode().splitlines()[-1]), stderr.decode()


def samples(path: Path) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(path.read_text())
        for sample in family.samples
    }


async def test_the_bot_trades_on_paper_records_metrics_and_pings_the_warden(
    tmp_path: Path,
    settings: Settings,
    fast_hasher: PasswordHasher,
    clock: ManualClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    async with (
        SolanaNode(balances={WALLET: 1_500_000_000}) as node,
        serve_warden(settings, fast_hasher, clock) as warden,
    ):
        summary, log = await run_bot(
            tmp_path, node, "--iterations", "3", "--warden-url", warden.url, "--heartbeat", "bot"
        )
        beat = warden.beat()
    assert summary["iterations"] == 3
    assert summary["errors"] == 0
    assert summary["filled"] + summary["rejected"] == 3
    assert summary["state"] == "ACTIVE"
    # Each iteration is a run: /start, then a success ping.
    assert summary["heartbeat"] == 6
    assert beat.pings_total == 6
    assert beat.last_status == "success"
    assert TOKEN not in log
    assert node.url() not in log  # httpx's request lines (URLs carry API keys) are muted
    values = samples(tmp_path / "bot.prom")
    assert values[("orders_total", frozenset({("status", "filled")}))] == summary["filled"]
    assert values[("signals_received_total", frozenset({("source", "example")}))] == 3
    assert values[("wallet_balance_sol", frozenset({("wallet", "main")}))] == 1.5
    assert values[("swap_execution_duration_seconds_count", frozenset())] == summary["filled"]
    assert values[("circuit_breaker_state", frozenset({("name", "quote_api")}))] == 0
    sent = frozenset({("heartbeat", "bot"), ("outcome", "sent")})
    assert values[("heartbeat_client_pings_total", sent)] == 6
    getslot = frozenset({("provider", "local"), ("method", "getSlot"), ("outcome", "success")})
    assert values[("rpc_requests_total", getslot)] >= 3


async def test_a_halted_kill_switch_refuses_every_order_and_the_warden_may_be_down(
    tmp_path: Path,
) -> None:
    backend = SQLiteBackend(tmp_path / "state.db")
    KillSwitch(backend, watch=False).halt("operator:test", "drill", "before the bot starts")
    backend.close()
    async with SolanaNode() as node:
        summary, _ = await run_bot(
            tmp_path, node, "--iterations", "2", "--warden-url", "http://127.0.0.1:9"
        )
    assert summary["state"] == "HALTED"
    assert summary["filled"] == 0
    assert summary["rejected"] == 2
    assert summary["denials"] == {"TRADING_HALTED": 2}
    assert summary["heartbeat"] == 0
    values = samples(tmp_path / "bot.prom")
    assert values[("orders_total", frozenset({("status", "rejected")}))] == 2
    assert values[("trading_state", frozenset())] == 2
