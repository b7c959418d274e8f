"""The blocking pool, for synchronous bots: the same rules on a private loop thread."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from support.solana_node import SolanaNode
from tradewarden.clock import ManualClock
from tradewarden.guard.retry import RetryPolicy
from tradewarden.guard.rpc import BlockingRpcPool, Endpoint, RpcOutcomeUnknownError


@pytest.fixture
async def nodes() -> AsyncIterator[list[SolanaNode]]:
    async with SolanaNode() as first, SolanaNode() as second:
        yield [first, second]


def blocking_pool(nodes: list[SolanaNode], clock: ManualClock) -> BlockingRpcPool:
    endpoints = [Endpoint("helius", nodes[0].url()), Endpoint("public", nodes[1].url(), priority=2)]
    return BlockingRpcPool(endpoints, clock=clock, registry=CollectorRegistry())


async def test_a_blocking_call_fails_over_like_the_async_pool(nodes: list[SolanaNode]) -> None:
    nodes[0].status = 503
    clock = ManualClock()

    def bot() -> Any:
        # A synchronous bot: its own calls block; the nodes run on the test's loop.
        with blocking_pool(nodes, clock) as pool:
            slot = pool.request("getSlot")
            return slot, [s.name for s in pool.status()]

    slot, ranked = await asyncio.to_thread(bot)
    assert slot == nodes[1].slot
    assert ranked == ["public", "helius"]  # helius failed its first sample


async def test_a_blocking_send_is_not_resent(nodes: list[SolanaNode]) -> None:
    nodes[0].status = 502
    clock = ManualClock()

    def bot() -> None:
        pool = blocking_pool(nodes, clock)
        policy = RetryPolicy(clock=clock, sleep=lambda _: None)
        try:
            policy.call(lambda _attempt: pool.request("sendTransaction", ["AQID"]))
        finally:
            pool.close()

    with pytest.raises(Exception) as caught:  # noqa: PT011 - the cause is what is checked
        await asyncio.to_thread(bot)
    assert isinstance(caught.value.__cause__, RpcOutcomeUnknownError)
    assert [n.methods().count("sendTransaction") for n in nodes] == [1, 0]


def test_a_closed_pool_refuses_calls() -> None:
    pool = BlockingRpcPool([Endpoint("helius", "http://127.0.0.1:1/")])
    pool.close()
    pool.close()  # twice is fine
    with pytest.raises(RuntimeError, match="closed"):
        pool.request("getSlot")
