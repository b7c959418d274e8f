"""Always-healthy loopback HTTP targets for bench/probes.py.

One process listens on ``--ports`` ports of 127.0.0.1 (chosen by the kernel) and answers
every request with ``200 OK`` and a two-byte body, over HTTP/1.1 keep-alive. It is a bare
``asyncio.Protocol`` (on uvloop when installed), not a framework: the targets should cost
as little CPU as possible, and they run on the other core from the warden.

    python bench/_probe_targets.py --ports 8 [--cpu 0] [--max-runtime-s 3600]

It prints ``ready <port> <port> ...`` once listening, and stops on SIGTERM or SIGINT, when
its parent exits, or after ``--max-runtime-s``, whichever comes first.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Callable
from typing import cast

HOST = "127.0.0.1"
_RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"
_CLOSE_RESPONSE = _RESPONSE.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n", 1)
_MAX_HEAD_BYTES = 16_384


class _Target(asyncio.Protocol):
    """One keep-alive connection: answer each request head in order."""

    def __init__(self) -> None:
        self._transport: asyncio.Transport | None = None
        self._buffer = b""
        self._body_left = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, only alike.
        self._transport = cast("asyncio.Transport", transport)

    def data_received(self, data: bytes) -> None:
        transport = self._transport
        assert transport is not None
        buffer = self._buffer + data
        while True:
            if self._body_left:  # skip a request body (the monitors send none)
                taken = min(self._body_left, len(buffer))
                self._body_left -= taken
                buffer = buffer[taken:]
                if self._body_left:
                    break
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(buffer) > _MAX_HEAD_BYTES:
                    transport.close()
                    return
                break
            head, buffer = buffer[:end].lower(), buffer[end + 4 :]
            self._body_left = _content_length(head)
            if b"\r\nconnection: close" in head:
                transport.write(_CLOSE_RESPONSE)
                transport.close()
                return
            transport.write(_RESPONSE)
        self._buffer = buffer

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None


def _content_length(head: bytes) -> int:
    marker = head.find(b"\r\ncontent-length:")
    if marker < 0:
        return 0
    value = head[marker + 17 :].split(b"\r\n", 1)[0]
    return int(value.strip() or 0)


async def _serve(ports: int, max_runtime_s: float) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    servers = [
        await loop.create_server(_Target, HOST, 0, backlog=1024, reuse_address=True)
        for _ in range(ports)
    ]
    numbers = [server.sockets[0].getsockname()[1] for server in servers]
    print("ready", *numbers, flush=True)
    parent = os.getppid()
    deadline = loop.time() + max_runtime_s
    # Stop by ourselves if the bench dies without terminating us (we get re-parented).
    while not stop.is_set() and loop.time() < deadline and os.getppid() == parent:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(1.0):
                await stop.wait()
    for server in servers:
        server.close()
    for server in servers:
        await server.wait_closed()


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ports", type=int, default=8, help="how many ports to listen on")
    parser.add_argument("--cpu", type=int, help="pin this process to this CPU")
    parser.add_argument("--max-runtime-s", type=float, default=3600.0, help="stop after this")
    args = parser.parse_args(argv)
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        runner.run(_serve(args.ports, args.max_runtime_s))
    return 0


if __name__ == "__main__":
    sys.exit(main())
