"""TCP monitors: can a connection to host:port be opened, and how fast."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from typing import Literal

from pydantic import Field

from tradewarden.probes._model import Probe, ProbeContext, ProbeResult, Sample
from tradewarden.probes._spec import MonitorSpec

__all__ = ["TcpSpec"]


class TcpSpec(MonitorSpec):
    """Open a TCP connection to ``host:port`` and close it again."""

    kind: Literal["tcp"] = "tcp"
    # A name or an address; an IPv6 address without brackets.
    host: str = Field(min_length=1, max_length=253, pattern=r"^[^\s/\[\]@]+$")
    port: int = Field(ge=1, le=65_535)
    slow_ms: float | None = Field(default=None, gt=0)

    def build(self) -> Probe:
        return _TcpProbe(self)


class _TcpProbe:
    def __init__(self, spec: TcpSpec) -> None:
        self._spec = spec

    async def run(self, ctx: ProbeContext) -> ProbeResult:
        spec = self._spec
        target = f"{spec.host}:{spec.port}"
        started = time.perf_counter()
        try:
            _, writer = await asyncio.open_connection(spec.host, spec.port)
        except OSError as exc:
            return ProbeResult.failure(
                f"cannot connect to {target}: {_describe(exc)}", time.perf_counter() - started
            )
        connect_s = time.perf_counter() - started
        writer.close()
        # A peer that resets the connection as we leave has still accepted it.
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        sample = Sample(
            "probe_tcp_connect_seconds", connect_s, help="Time to open the TCP connection."
        )
        connect_ms = connect_s * 1000
        if spec.slow_ms is not None and connect_ms > spec.slow_ms:
            return ProbeResult(
                success=True,
                duration_s=connect_s,
                error=f"connect took {connect_ms:.0f} ms, slower than slow_ms ({spec.slow_ms:g})",
                degraded=True,
                samples=(sample,),
            )
        return ProbeResult(success=True, duration_s=connect_s, samples=(sample,))


def _describe(exc: OSError) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, socket.gaierror):
        return f"DNS lookup failed: {exc.strerror or exc}"
    if isinstance(exc, TimeoutError):
        return "connect timed out"
    # Several addresses tried: asyncio joins their errors into one message.
    return exc.strerror or str(exc) or type(exc).__name__
