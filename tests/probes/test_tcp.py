"""The tcp monitor kind against real sockets on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import ValidationError

from probes._targets import LOOPBACK, closed_port
from support.eventually import eventually
from tradewarden.clock import ManualClock
from tradewarden.probes import ProbeContext
from tradewarden.probes.kinds.tcp import TcpSpec


class _Listener:
    """A TCP server that counts connections and notes the ones the client closed."""

    def __init__(self) -> None:
        self.accepted = 0
        self.closed_by_client = 0
        self.port = 0
        self._server: asyncio.Server | None = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        try:
            if await reader.read() == b"":
                self.closed_by_client += 1
        finally:
            writer.close()
            await writer.wait_closed()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, LOOPBACK, 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()


@pytest.fixture
async def listener() -> AsyncIterator[_Listener]:
    server = _Listener()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def ctx(clock: ManualClock) -> AsyncIterator[ProbeContext]:
    async with httpx.AsyncClient(trust_env=False) as http:
        yield ProbeContext(clock=clock, timeout_s=5.0, http=http)


async def test_open_port_passes_and_the_connection_is_closed(
    listener: _Listener, ctx: ProbeContext
) -> None:
    result = await TcpSpec(name="db", host=LOOPBACK, port=listener.port).build().run(ctx)
    assert result.success
    assert not result.degraded
    assert [s.name for s in result.samples] == ["probe_tcp_connect_seconds"]
    assert result.samples[0].value == result.duration_s
    await eventually(lambda: listener.closed_by_client == 1)
    assert listener.accepted == 1


async def test_closed_port_fails_as_refused(ctx: ProbeContext) -> None:
    port = closed_port()
    result = await TcpSpec(name="db", host=LOOPBACK, port=port).build().run(ctx)
    assert not result.success
    assert result.error == f"cannot connect to 127.0.0.1:{port}: connection refused"


async def test_connect_slower_than_slow_ms_is_degraded(
    listener: _Listener, ctx: ProbeContext
) -> None:
    # No local way to slow a connect down: a threshold nothing can beat instead.
    spec = TcpSpec(name="db", host=LOOPBACK, port=listener.port, slow_ms=1e-9)
    result = await spec.build().run(ctx)
    assert result.success
    assert result.degraded
    assert result.error is not None
    assert "slower than slow_ms" in result.error


async def test_connect_within_slow_ms_is_not_degraded(
    listener: _Listener, ctx: ProbeContext
) -> None:
    spec = TcpSpec(name="db", host=LOOPBACK, port=listener.port, slow_ms=60_000)
    result = await spec.build().run(ctx)
    assert result.success
    assert not result.degraded


async def test_cancelled_connect_leaves_no_task_behind(ctx: ProbeContext) -> None:
    probe = TcpSpec(name="db", host=LOOPBACK, port=closed_port()).build()
    task = asyncio.create_task(probe.run(ctx))
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert asyncio.all_tasks() == {asyncio.current_task()}


@pytest.mark.parametrize("port", [0, 65_536, -1])
def test_port_outside_range_is_rejected(port: int) -> None:
    with pytest.raises(ValidationError) as exc:
        TcpSpec(name="db", host=LOOPBACK, port=port)
    assert [error["loc"] for error in exc.value.errors()] == [("port",)]


@pytest.mark.parametrize("host", ["", "db host", "http://db", "[::1]"])
def test_malformed_host_is_rejected(host: str) -> None:
    with pytest.raises(ValidationError) as exc:
        TcpSpec(name="db", host=host, port=5432)
    assert [error["loc"] for error in exc.value.errors()] == [("host",)]


def test_timeout_longer_than_interval_is_rejected() -> None:
    with pytest.raises(ValidationError) as exc:
        TcpSpec(name="db", host=LOOPBACK, port=5432, interval_s=5, timeout_s=10)
    (error,) = exc.value.errors()
    # The base spec checks this in a model validator: its message names the field.
    assert "timeout_s" in ".".join(map(str, error["loc"])) + error["msg"]
