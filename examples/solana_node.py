"""Serve the test suite's local Solana JSON-RPC node on 127.0.0.1 until interrupted.

    python examples/solana_node.py [--url-file PATH] [--balance PUBKEY=LAMPORTS ...]

It prints the node's URL (a free port each time) on the first line. The node answers
getHealth, getSlot, getLatestBlockhash, getBalance and getRecentPrioritizationFees in
Solana's shapes (tests/support/solana_node.py); its slot advances by one every 400 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from pathlib import Path

# The node lives with the tests (the RPC pool's and the solana_rpc probe's); reuse it.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from support.solana_node import SolanaNode

DEFAULT_WALLET = "9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM"
SLOT_TIME_S = 0.4


async def serve(args: argparse.Namespace) -> None:
    balances = {DEFAULT_WALLET: 2_500_000_000}
    for spec in args.balance:
        key, _, lamports = spec.partition("=")
        balances[key] = int(lamports)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with SolanaNode(balances=balances) as node:
        url = node.url()
        if args.url_file is not None:
            temp = args.url_file.with_suffix(".tmp")
            temp.write_text(url)
            temp.replace(args.url_file)
        print(url, flush=True)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), SLOT_TIME_S)
            node.slot += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url-file", type=Path, help="also write the URL to this file")
    parser.add_argument("--balance", action="append", default=[], metavar="PUBKEY=LAMPORTS")
    asyncio.run(serve(parser.parse_args()))


if __name__ == "__main__":
    main()
