"""The default transport: httpx's request log names the provider, never the URL and its key."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import httpx
import pytest
from prometheus_client import CollectorRegistry

from support.solana_node import SolanaNode
from tradewarden.clock import ManualClock
from tradewarden.guard.rpc import Endpoint, HttpxTransport, RpcPool

SECRET = "s3cr3t-api-key-0123456789"
BODY = b'{"jsonrpc": "2.0", "id": 1, "method": "getSlot"}'


@pytest.fixture
async def node() -> AsyncIterator[SolanaNode]:
    async with SolanaNode() as started:
        yield started


def httpx_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.name == "httpx"]


def filters_of(transport: HttpxTransport) -> list[logging.Filter]:
    return [f for f in logging.getLogger("httpx").filters if f is transport.log_filter]


@pytest.mark.parametrize("where", ["query", "path"])
async def test_the_pools_requests_are_logged_by_provider_name(
    node: SolanaNode, caplog: pytest.LogCaptureFixture, where: str
) -> None:
    caplog.set_level(logging.INFO)
    url = node.url(f"?api-key={SECRET}" if where == "query" else f"v2/{SECRET}")
    pool = RpcPool([Endpoint("helius", url)], clock=ManualClock(), registry=CollectorRegistry())
    try:
        assert await pool.request("getSlot") == node.slot
    finally:
        await pool.aclose()
    assert node.requests[0].target.endswith(SECRET)  # the key is sent ...
    assert SECRET not in caplog.text  # ... and never logged
    assert "127.0.0.1" not in caplog.text
    assert httpx_lines(caplog) == ['HTTP Request: POST helius "HTTP/1.1 200 OK"']


async def test_a_url_without_a_name_is_logged_as_its_origin(
    node: SolanaNode, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    transport = HttpxTransport()
    try:
        reply = await transport.post(
            node.url(f"{SECRET}/?api-key={SECRET}"), BODY, headers={}, timeout_s=5.0
        )
    finally:
        await transport.aclose()
    assert reply.status == 200
    assert node.requests[0].target == f"/{SECRET}/?api-key={SECRET}"
    assert SECRET not in caplog.text
    assert httpx_lines(caplog) == [
        f'HTTP Request: POST http://127.0.0.1:{node.port}/... "HTTP/1.1 200 OK"'
    ]


async def test_a_callers_client_is_filtered_too_and_other_urls_are_left_alone(
    node: SolanaNode, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with httpx.AsyncClient() as client:
        transport = HttpxTransport(client, names={node.url(f"?api-key={SECRET}"): "helius"})
        await transport.post(node.url(f"?api-key={SECRET}"), BODY, headers={}, timeout_s=5.0)
        await client.post(node.url("?other=1"), content=BODY)  # not the pool's
        await transport.aclose()
    assert httpx_lines(caplog) == [
        'HTTP Request: POST helius "HTTP/1.1 200 OK"',
        f'HTTP Request: POST {node.url("?other=1")} "HTTP/1.1 200 OK"',
    ]


async def test_the_log_filter_is_installed_once_and_removed_on_close(node: SolanaNode) -> None:
    transport = HttpxTransport()
    transport.install_log_filter()  # again: no second copy
    assert len(filters_of(transport)) == 1
    await transport.post(node.url(), BODY, headers={}, timeout_s=5.0)
    await transport.post(node.url(), BODY, headers={}, timeout_s=5.0)
    assert len(filters_of(transport)) == 1
    await transport.aclose()
    assert filters_of(transport) == []
    await transport.aclose()  # closing twice is harmless
