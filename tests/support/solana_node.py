"""A fake Solana JSON-RPC node on 127.0.0.1, for the solana_rpc kind's and the RPC pool's tests.

It answers in the shapes Solana's RPC documents (and Agave's server produces)::

    getHealth                    "ok" | error -32005 "Node is behind by N slots",
                                 data {"numSlotsBehind": N}
    getSlot                      N
    getLatestBlockhash           {"context": {"slot": N}, "value": {"blockhash": "...",
                                 "lastValidBlockHeight": N}}
    getBalance                   {"context": {"slot": N}, "value": lamports}
    getRecentPrioritizationFees  [{"slot": N, "prioritizationFee": fee}, ...]

and misbehaves on demand through its attributes, which a test may change between checks:
``slot``/``lag``, ``behind`` (unhealthy), ``hang`` (never answer), ``delays``, ``status``
(an HTTP error such as 429), ``headers`` (added to every answer, e.g. ``Retry-After``),
``garbage`` (a body that is no JSON), ``results`` and ``errors`` (override one method's
answer). Every request is recorded in ``requests``.

An asyncio server on the test's own loop: a hung request costs nothing but a task, and
``hanging`` counts those whose client has not yet closed the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Self

__all__ = ["BLOCKHASH", "RpcRequest", "SolanaNode", "unhealthy_error"]

LOOPBACK = "127.0.0.1"
BLOCKHASH = "EkSnNWid2cvwEVnVx9aBqawnmiCNiDgp3gUdkDPTKN1N"
_DEFAULT_SLOT = 312_000_000


@dataclass(frozen=True, slots=True)
class RpcRequest:
    """One request as the node saw it."""

    target: str  # path and query, API key included
    method: str | None
    params: Any
    body: Any


@dataclass(slots=True)
class SolanaNode:
    """A local JSON-RPC server speaking a useful subset of Solana's API."""

    slot: int = _DEFAULT_SLOT
    lag: int = 0  # answer ``slot - lag``: a node that fell behind
    behind: int | None = None  # getHealth answers -32005 with this numSlotsBehind
    hang: bool = False  # accept every request and never answer
    delays: dict[str, float] = field(default_factory=dict)  # per method, before answering
    status: int | None = None  # answer every request with this HTTP status
    headers: dict[str, str] = field(default_factory=dict)  # added to every answer
    garbage: bytes | None = None  # answer every request with this 200 body
    balances: dict[str, int] = field(default_factory=dict)  # lamports per address
    fees: list[int] = field(default_factory=lambda: [0, 0, 1_000, 5_000, 10_000])
    results: dict[str, Any] = field(default_factory=dict)  # a method's result, verbatim
    errors: dict[str, dict[str, Any]] = field(default_factory=dict)  # a method's error
    requests: list[RpcRequest] = field(default_factory=list, init=False)
    hanging: int = field(default=0, init=False)  # requests parked by ``hang``, still open
    port: int = field(default=0, init=False)
    _server: asyncio.Server | None = field(default=None, init=False, repr=False)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set, init=False, repr=False)
    _writers: set[asyncio.StreamWriter] = field(default_factory=set, init=False, repr=False)

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._connection, LOOPBACK, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._server is not None:
            self._server.close()
        # Closing a connection ends its handler (EOF), a parked one included; cancelling
        # the handler instead makes asyncio log the CancelledError as an error on 3.11.
        for writer in list(self._writers):
            writer.close()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    def url(self, query: str = "") -> str:
        """Return this node's URL, e.g. with ``?api-key=...``."""
        return f"http://{LOOPBACK}:{self.port}/{query}"

    def methods(self) -> list[str | None]:
        """Return the JSON-RPC methods requested so far, in order."""
        return [request.method for request in self.requests]

    # --- HTTP/1.1, just enough for httpx -----------------------------------------------

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(writer)
        try:
            while await self._exchange(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            self._tasks.discard(task)
            self._writers.discard(writer)
            writer.close()
            # Cancelled here (a loop shutting down while the close completes), the task
            # would end in CancelledError, which asyncio's stream callback logs as an error
            # on 3.11: the connection is closed either way.
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await writer.wait_closed()

    async def _exchange(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Serve one request; return whether the connection stays open for another."""
        request_line = await reader.readline()
        if not request_line:
            return False
        _, target, _ = request_line.decode("latin-1").split(" ", 2)
        headers: dict[str, str] = {}
        while (line := await reader.readline()) not in {b"\r\n", b"\n", b""}:
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        raw = await reader.readexactly(length) if length else b""
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = None
        method = body.get("method") if isinstance(body, dict) else None
        params = body.get("params") if isinstance(body, dict) else None
        self.requests.append(RpcRequest(target, method, params, body))

        if self.hang:
            await self._hang(reader)
            return False
        if delay_s := self.delays.get(method or "", 0.0):
            await asyncio.sleep(delay_s)
        if self.status is not None:
            reply = HTTPStatus(self.status).phrase.encode()
            await self._send(writer, self.status, reply, "text/plain", self.headers)
        elif self.garbage is not None:
            await self._send(writer, 200, self.garbage, "application/json", self.headers)
        else:
            answer = self._answer(method, params)
            answer["id"] = body.get("id") if isinstance(body, dict) else None
            encoded = json.dumps(answer).encode()
            await self._send(writer, 200, encoded, "application/json", self.headers)
        return True

    async def _hang(self, reader: asyncio.StreamReader) -> None:
        self.hanging += 1
        try:
            # Answer nothing; return when the client gives up and closes the connection.
            while await reader.read(1024):
                pass
        finally:
            self.hanging -= 1

    @staticmethod
    async def _send(
        writer: asyncio.StreamWriter,
        status: int,
        body: bytes,
        content_type: str,
        headers: dict[str, str],
    ) -> None:
        extra = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        head = (
            f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"
            f"Content-Type: {content_type}\r\n"
            f"{extra}"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        writer.write(head.encode("latin-1") + body)
        await writer.drain()

    # --- JSON-RPC ----------------------------------------------------------------------

    def _answer(self, method: str | None, params: Any) -> dict[str, Any]:
        slot = self.slot - self.lag
        if method in self.errors:
            return {"jsonrpc": "2.0", "error": self.errors[method]}
        if method in self.results:
            return {"jsonrpc": "2.0", "result": self.results[method]}
        context = {"slot": slot, "apiVersion": "2.1.13"}
        result: Any
        if method == "getHealth":
            if self.behind is not None:
                return {"jsonrpc": "2.0", "error": unhealthy_error(self.behind)}
            result = "ok"
        elif method == "getSlot":
            result = slot
        elif method == "getLatestBlockhash":
            value = {"blockhash": BLOCKHASH, "lastValidBlockHeight": slot - 20_000_000}
            result = {"context": context, "value": value}
        elif method == "getBalance":
            address = params[0] if isinstance(params, list) and params else None
            result = {"context": context, "value": self.balances.get(str(address), 0)}
        elif method == "getRecentPrioritizationFees":
            result = [
                {"slot": slot - index, "prioritizationFee": fee}
                for index, fee in enumerate(self.fees)
            ]
        else:
            error = {"code": -32601, "message": "Method not found"}
            return {"jsonrpc": "2.0", "error": error}
        return {"jsonrpc": "2.0", "result": result}


def unhealthy_error(behind: int | None) -> dict[str, Any]:
    """Return Agave's error object for a node that is behind (unknown by how much: None)."""
    message = "Node is unhealthy" if behind is None else f"Node is behind by {behind} slots"
    return {"code": -32005, "message": message, "data": {"numSlotsBehind": behind}}
