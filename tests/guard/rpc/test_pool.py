"""The RPC pool against real local JSON-RPC servers speaking Solana's shapes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from support.eventually import eventually
from support.net import free_port
from support.solana_node import SolanaNode, unhealthy_error
from tradewarden.clock import ManualClock
from tradewarden.guard.retry import (
    Attempt,
    FailureKind,
    PermanentFailureError,
    RetryPolicy,
)
from tradewarden.guard.rpc import (
    Endpoint,
    EvmBlockSampler,
    HttpReply,
    HttpxTransport,
    NoEndpointAvailableError,
    PoolConfig,
    RpcError,
    RpcOutcomeUnknownError,
    RpcPool,
    RpcResponseError,
    SolanaSlotSampler,
    TransportFailure,
    guard_breakers,
)

WALLET = "9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM"
SIGNED_TX = (
    "AVXo5X7UNzpuOmYzkZ+fqHDGiRLTSMlWlUCcZKzEV5CIKlrdvZa3/2GrJJfPrXgZqJbYDaGiOnP99tI/"
    "sRJfiwwBAAEDRQ/n5E5CLbMbHanUG3+iVvBAWZu0WFM6NoB5xfybQ7kNwwgfIhv6odn2qTUu/gOisDta"
    "eCW1qlwW/gx3ccr/4wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAvsInicc+E3IZzLqeA+iM"
    "5cn9kSaeFzOuClz1Z2kZQy0BAgIAAQwCAAAAAPIFKgEAAAA="
)
SECRET = "s3cr3t-api-key-0123456789"


@pytest.fixture
async def nodes() -> AsyncIterator[list[SolanaNode]]:
    async with SolanaNode() as helius, SolanaNode() as quicknode, SolanaNode() as public:
        yield [helius, quicknode, public]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


class Pools:
    """Build pools for a test (with its clock and registry); all are closed at teardown."""

    def __init__(
        self, nodes: list[SolanaNode], clock: ManualClock, registry: CollectorRegistry
    ) -> None:
        self.nodes, self.clock, self.registry = nodes, clock, registry
        self.made: list[RpcPool] = []

    def __call__(self, endpoints: list[Endpoint], **options: Any) -> RpcPool:
        options.setdefault("clock", self.clock)
        options.setdefault("registry", self.registry)
        pool = RpcPool(endpoints, **options)
        self.made.append(pool)
        return pool

    def seed_endpoints(self) -> list[Endpoint]:
        """Return the seeds' endpoints: a paid provider, a second one, the public fallback."""
        return [
            Endpoint("helius", self.nodes[0].url(f"?api-key={SECRET}"), priority=1),
            Endpoint("quicknode", self.nodes[1].url(), priority=2),
            Endpoint("public", self.nodes[2].url(), priority=3),
        ]

    def seeds(self, **config: Any) -> RpcPool:
        """Return a pool of the seeds' endpoints with short timeouts and ``config``."""
        options: dict[str, Any] = {"request_timeout_s": 0.5, "sample_timeout_s": 0.5}
        options.update(config)
        return self(self.seed_endpoints(), config=PoolConfig(**options))


@pytest.fixture
async def pools(
    nodes: list[SolanaNode], clock: ManualClock, registry: CollectorRegistry
) -> AsyncIterator[Pools]:
    made = Pools(nodes, clock, registry)
    yield made
    for pool in made.made:
        await pool.aclose()


def count(node: SolanaNode, method: str) -> int:
    return node.methods().count(method)


def requests_total(registry: CollectorRegistry, provider: str, method: str, outcome: str) -> float:
    value = registry.get_sample_value(
        "rpc_requests_total", {"provider": provider, "method": method, "outcome": outcome}
    )
    return value or 0.0


async def test_requests_go_to_the_first_tier(
    nodes: list[SolanaNode], clock: ManualClock, registry: CollectorRegistry, pools: Pools
) -> None:
    nodes[0].balances[WALLET] = 5_000
    pool = pools.seeds()
    await pool.start()  # samples once, then keeps sampling until closed
    result = await pool.request("getBalance", [WALLET])
    assert result["value"] == 5_000
    assert count(nodes[0], "getBalance") == 1
    assert count(nodes[1], "getBalance") == count(nodes[2], "getBalance") == 0
    assert requests_total(registry, "helius", "getBalance", "success") == 1


async def test_failover_follows_the_tiers_on_retryable_errors(
    nodes: list[SolanaNode], clock: ManualClock, registry: CollectorRegistry, pools: Pools
) -> None:
    nodes[0].status = 503
    nodes[1].errors["getBalance"] = unhealthy_error(142)
    nodes[2].balances[WALLET] = 7
    pool = pools.seeds()
    assert (await pool.request("getBalance", [WALLET]))["value"] == 7
    assert [count(n, "getBalance") for n in nodes] == [1, 1, 1]
    assert requests_total(registry, "helius", "getBalance", "http_error") == 1
    assert requests_total(registry, "quicknode", "getBalance", "unhealthy") == 1
    assert requests_total(registry, "public", "getBalance", "success") == 1


async def test_a_hanging_endpoint_times_out_and_the_next_answers(
    nodes: list[SolanaNode], clock: ManualClock, registry: CollectorRegistry, pools: Pools
) -> None:
    nodes[0].hang = True
    pool = pools.seeds(request_timeout_s=0.2)
    assert await pool.request("getSlot") == nodes[1].slot
    assert requests_total(registry, "helius", "getSlot", "timeout") == 1


async def test_garbage_is_an_endpoint_failure(
    nodes: list[SolanaNode], clock: ManualClock, registry: CollectorRegistry, pools: Pools
) -> None:
    nodes[0].garbage = b"<html>Bad gateway</html>"
    pool = pools.seeds()
    assert await pool.request("getSlot") == nodes[1].slot
    assert requests_total(registry, "helius", "getSlot", "protocol_error") == 1


async def test_a_deterministic_error_is_not_retried_elsewhere(
    nodes: list[SolanaNode], clock: ManualClock, registry: CollectorRegistry, pools: Pools
) -> None:
    nodes[0].errors["getBalance"] = {"code": -32602, "message": "Invalid param: WrongSize"}
    pool = pools.seeds()
    with pytest.raises(RpcResponseError) as caught:
        await pool.request("getBalance", ["not-an-address"])
    assert caught.value.code == -32602
    assert caught.value.failure.kind is FailureKind.REQUEST_REJECTED
    assert caught.value.provider == "helius"
    assert count(nodes[1], "getBalance") == count(nodes[2], "getBalance") == 0


async def test_a_rate_limited_endpoint_is_skipped_until_its_retry_after_passes(
    nodes: list[SolanaNode], clock: ManualClock, registry: CollectorRegistry, pools: Pools
) -> None:
    nodes[0].status = 429
    nodes[0].headers["Retry-After"] = "7"
    pool = pools.seeds()
    assert await pool.request("getSlot") == nodes[1].slot  # helius said 429
    nodes[0].status = None
    assert await pool.request("getSlot") == nodes[1].slot  # still waiting it out
    assert count(nodes[0], "getSlot") == 1
    assert pool.status()[0].rate_limited_for_s == pytest.approx(7.0)
    clock.advance(7.0)
    assert await pool.request("getSlot") == nodes[0].slot
    assert count(nodes[0], "getSlot") == 2
    assert requests_total(registry, "helius", "getSlot", "rate_limited") == 1
    assert requests_total(registry, "helius", "getSlot", "deferred") == 1


async def test_the_retry_policy_waits_the_retry_after_of_a_lone_endpoint(
    nodes: list[SolanaNode], clock: ManualClock, registry: CollectorRegistry, pools: Pools
) -> None:
    node = nodes[0]
    node.status = 429
    node.headers["Retry-After"] = "3"
    waits: list[float] = []

    async def asleep(seconds: float) -> None:
        waits.append(seconds)
        clock.advance(seconds)
        node.status = None  # the rate limit lifts while we wait

    pool = pools([Endpoint("helius", node.url())])
    policy = RetryPolicy(clock=clock, asleep=asleep)

    async def get_slot(attempt: Attempt) -> Any:
        return await pool.request("getSlot")

    assert await policy.acall(get_slot) == node.slot
    assert waits[0] >= 3.0
    assert count(node, "getSlot") == 2


async def test_every_endpoint_rate_limited_says_when_to_come_back(
    nodes: list[SolanaNode], clock: ManualClock, registry: CollectorRegistry, pools: Pools
) -> None:
    for node, wait in zip(nodes, ["9", "4", "6"], strict=True):
        node.status = 429
        node.headers["Retry-After"] = wait
    pool = pools.seeds()
    with pytest.raises(NoEndpointAvailableError) as caught:
        await pool.request("getSlot")
    assert caught.value.failure.kind is FailureKind.RATE_LIMITED
    assert caught.value.failure.retry_after_s == 4.0
    assert [e.provider for e in caught.value.errors] == ["helius", "quicknode", "public"]


async def test_send_transaction_is_not_resent_after_no_answer(
    nodes: list[SolanaNode], clock: ManualClock, registry: CollectorRegistry, pools: Pools
) -> None:
    nodes[0].hang = True
    pool = pools.seeds(request_timeout_s=0.2)
    policy = RetryPolicy(clock=clock, asleep=_no_sleep)

    async def send(attempt: Attempt) -> Any:
        return await pool.request("sendTransaction", [SIGNED_TX, {"encoding": "base64"}])

    with pytest.raises(PermanentFailureError) as caught:
        await policy.acall(send)
    assert isinstance(caught.value.__cause__, RpcOutcomeUnknownError)
    assert caught.value.failure.kind is FailureKind.OUTCOME_UNKNOWN
    assert [count(n, "sendTransaction") for n in nodes] == [1, 0, 0]


async def test_send_transaction_is_not_resent_after_a_server_error(
    nodes: list[SolanaNode], clock: ManualClock, registry: CollectorRegistry, pools: Pools
) -> None:
    nodes[0].status = 502
    pool = pools.seeds()
    with pytest.raises(RpcOutcomeUnknownError, match="check its signature"):
        await pool.request("sendTransaction", [SIGNED_TX])
    assert [count(n, "sendTransaction") for n in nodes] == [1, 0, 0]


async def test_send_transaction_moves_on_when_the_first_surely_never_took_it(
    nodes: list[SolanaNode], clock: ManualClock, registry: CollectorRegistry, pools: Pools
) -> None:
    signature = (
        "5VERv8NMvzbJMEkV8xnrLkEaWRtSz9CosKDYjCJjBRnbJLgp8uirBgmQpjKhoR4tjF3ZpRzrFmBV6UjKdiSZkQUW"
    )
    nodes[1].status = 429  # refused, not processed
    nodes[2].results["sendTransaction"] = signature
    endpoints = [
        Endpoint("down", f"http://127.0.0.1:{free_port()}/", priority=1),  # connection refused
        Endpoint("quicknode", nodes[1].url(), priority=2),
        Endpoint("public", nodes[2].url(), priority=3),
    ]
    pool = pools(endpoints)
    assert await pool.request("sendTransaction", [SIGNED_TX]) == signature
    assert [count(n, "sendTransaction") for n in nodes[1:]] == [1, 1]
    assert requests_total(registry, "down", "sendTransaction", "unreachable") == 1


async def test_send_transaction_fails_over_when_configured_to(
    nodes: list[SolanaNode], clock: ManualClock, registry: CollectorRegistry, pools: Pools
) -> None:
    nodes[0].status = 503
    nodes[1].results["sendTransaction"] = "sig"
    pool = pools.seeds(resend_transactions=True)
    assert await pool.request("sendTransaction", [SIGNED_TX]) == "sig"


async def test_a_blockhash_not_found_send_is_answered_not_failed_over(
    nodes: list[SolanaNode], clock: ManualClock, registry: CollectorRegistry, pools: Pools
) -> None:
    nodes[0].errors["sendTransaction"] = {
        "code": -32002,
        "message": "Transaction simulation failed: Blockhash not found",
        "data": {"err": "BlockhashNotFound", "logs": [], "accounts": None, "unitsConsumed": 0},
    }
    pool = pools.seeds()
    with pytest.raises(RpcResponseError) as caught:
        await pool.request("sendTransaction", [SIGNED_TX])
    assert caught.value.failure.kind is FailureKind.BLOCKHASH_NOT_FOUND
    assert [count(n, "sendTransaction") for n in nodes] == [1, 0, 0]


async def test_an_endpoint_behind_the_highest_slot_is_demoted(
    nodes: list[SolanaNode], clock: ManualClock, registry: CollectorRegistry, pools: Pools
) -> None:
    nodes[0].lag = 120
    nodes[1].lag = 10
    pool = pools.seeds(max_slot_lag=50)
    await pool.sample()
    status = {s.name: s for s in pool.status()}
    assert [s.name for s in pool.status()] == ["quicknode", "public", "helius"]
    assert status["helius"].demoted
    assert status["helius"].slot_lag == 120
    assert not status["quicknode"].demoted
    assert await pool.request("getSlot") == nodes[1].slot - 10
    nodes[0].lag = 0
    await pool.sample()
    assert pool.status()[0].name == "helius"
    assert registry.get_sample_value("rpc_slot_lag", {"provider": "quicknode"}) == 10
    assert registry.get_sample_value("rpc_health_status", {"provider": "helius"}) == 1


async def test_lag_sets_the_gauges(
    nodes: list[SolanaNode], clock: ManualClock, registry: CollectorRegistry, pools: Pools
) -> None:
    nodes[0].lag = 120
    pool = pools.seeds()
    await pool.sample()
    assert registry.get_sample_value("rpc_slot_lag", {"provider": "helius"}) == 120
    assert registry.get_sample_value("rpc_health_status", {"provider": "helius"}) == 0
    assert registry.get_sample_value("rpc_health_status", {"provider": "public"}) == 1


async def test_an_unstable_endpoint_ranks_below_a_stable_one_of_its_tier(
    nodes: list[SolanaNode], clock: ManualClock, registry: CollectorRegistry, pools: Pools
) -> None:
    endpoints = [Endpoint("a", nodes[0].url()), Endpoint("b", nodes[1].url())]
    pool = pools(endpoints)
    nodes[0].status = 503
    await pool.sample()
    nodes[0].status = None
    await pool.sample()
    assert [s.name for s in pool.status()] == ["b", "a"]
    assert pool.status()[1].score == pytest.approx(0.3 + 0.7 * 0.5)
    assert await pool.request("getSlot") == nodes[1].slot


async def test_an_open_breaker_skips_the_endpoint_until_its_wait_is_over(
    nodes: list[SolanaNode], clock: ManualClock, registry: CollectorRegistry, pools: Pools
) -> None:
    nodes[0].status = 503
    pool = pools.seeds()
    for _ in range(5):
        await pool.request("getSlot")
    assert pool.status()[0].breaker == "OPEN"
    await pool.request("getSlot")
    assert count(nodes[0], "getSlot") == 5
    assert requests_total(registry, "helius", "getSlot", "rejected") == 1
    assert registry.get_sample_value("rpc_health_status", {"provider": "helius"}) == 0
    nodes[0].status = None
    clock.advance(30.0)
    assert await pool.request("getSlot") == nodes[0].slot  # the half-open trial
    assert count(nodes[0], "getSlot") == 6


@pytest.mark.parametrize("breakers", ["local", "guard"])
async def test_cancelled_requests_count_against_no_endpoint(
    nodes: list[SolanaNode], pools: Pools, breakers: str
) -> None:
    nodes[0].hang = True
    options: dict[str, Any] = {}
    if breakers == "guard":
        options["breaker_factory"] = guard_breakers(clock=pools.clock)
    pool = pools(pools.seed_endpoints(), config=PoolConfig(request_timeout_s=30.0), **options)
    for attempt in range(1, 7):  # more than the failure threshold (5)
        task = asyncio.create_task(pool.request("getSlot"))
        await eventually(lambda attempt=attempt: count(nodes[0], "getSlot") == attempt)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert pool.status()[0].breaker == "CLOSED"
    nodes[0].hang = False
    assert await pool.request("getSlot") == nodes[0].slot


async def test_every_endpoint_failing_raises_with_each_ones_failure(
    nodes: list[SolanaNode], clock: ManualClock, registry: CollectorRegistry, pools: Pools
) -> None:
    for node in nodes:
        node.status = 503
    pool = pools.seeds()
    with pytest.raises(NoEndpointAvailableError, match="helius: server_error") as caught:
        await pool.request("getSlot")
    assert caught.value.failure.kind is FailureKind.NO_ENDPOINT_AVAILABLE
    assert caught.value.failure.retryable


async def test_provider_names_never_urls_in_errors_labels_logs_and_reprs(
    nodes: list[SolanaNode],
    clock: ManualClock,
    registry: CollectorRegistry,
    caplog: pytest.LogCaptureFixture,
    pools: Pools,
) -> None:
    caplog.set_level(logging.DEBUG, logger="tradewarden.guard.rpc")
    nodes[0].status = 503
    nodes[1].hang = True
    nodes[2].status = 401
    down = Endpoint("down", f"http://127.0.0.1:{free_port()}/?api-key={SECRET}", priority=9)
    pool = pools(
        [*pools.seed_endpoints(), down],
        config=PoolConfig(request_timeout_s=0.2, sample_timeout_s=0.2),
    )
    texts: list[str] = []
    await pool.sample()
    with pytest.raises(NoEndpointAvailableError) as caught:
        await pool.request("getSlot")
    nodes[0].status = None
    nodes[0].errors["getBalance"] = {"code": -32602, "message": "Invalid param"}
    with pytest.raises(RpcError) as deterministic:
        await pool.request("getBalance", [WALLET])
    texts += [str(caught.value), repr(caught.value), str(deterministic.value)]
    texts += [str(e) for e in caught.value.errors]
    texts += [repr(pool), repr(pool.status()), repr(pool.config)]
    texts += [generate_latest(registry).decode(), caplog.text]
    assert nodes[0].requests[0].target == f"/?api-key={SECRET}"  # the key is used ...
    for text in texts:
        assert SECRET not in text  # ... and never shown
        assert "127.0.0.1" not in text
    assert "helius" in caplog.text


def test_an_endpoint_repr_hides_its_url() -> None:
    endpoint = Endpoint("helius", f"https://mainnet.helius-rpc.com/?api-key={SECRET}")
    assert SECRET not in repr(endpoint)
    assert SECRET not in str(endpoint)


@pytest.mark.parametrize(
    "name", [f"https://mainnet.helius-rpc.com/?api-key={SECRET}", "", "a b", "x" * 64]
)
def test_a_url_or_odd_name_is_refused_as_a_provider_name(name: str) -> None:
    with pytest.raises(ValueError, match="provider name") as caught:
        Endpoint(name, "https://example.com/")
    assert SECRET not in str(caught.value)


def test_pool_configuration_mistakes_are_refused() -> None:
    with pytest.raises(ValueError, match="at least one"):
        RpcPool([])
    with pytest.raises(ValueError, match="unique"):
        RpcPool([Endpoint("a", "http://127.0.0.1:1/"), Endpoint("a", "http://127.0.0.1:2/")])


async def test_the_health_sampler_is_a_port(
    nodes: list[SolanaNode], clock: ManualClock, registry: CollectorRegistry, pools: Pools
) -> None:
    nodes[0].results["eth_blockNumber"] = "0x1b4"
    nodes[1].results["eth_blockNumber"] = "0x100"
    endpoints = [Endpoint("a", nodes[0].url()), Endpoint("b", nodes[1].url())]
    pool = pools(endpoints, sampler=EvmBlockSampler(), config=PoolConfig(max_slot_lag=64))
    await pool.sample()
    assert {s.name: s.slot_lag for s in pool.status()} == {"a": 0, "b": 0x1B4 - 0x100}
    assert [s.name for s in pool.status()] == ["a", "b"]


async def _no_sleep(seconds: float) -> None:
    return None


async def test_a_send_refused_for_its_blockhash_is_rebuilt_and_lands(
    nodes: list[SolanaNode], pools: Pools
) -> None:
    node = nodes[0]
    node.errors["sendTransaction"] = {
        "code": -32002,
        "message": "Transaction simulation failed: Blockhash not found",
        "data": {"err": "BlockhashNotFound", "logs": [], "accounts": None, "unitsConsumed": 0},
    }
    node.results["sendTransaction"] = "sig"
    pool = pools.seeds()
    blockhashes: list[str] = []

    async def refresh_blockhash() -> None:
        latest = await pool.request("getLatestBlockhash", [{"commitment": "confirmed"}])
        blockhashes.append(latest["value"]["blockhash"])
        del node.errors["sendTransaction"]  # signed with a fresh blockhash, it passes

    async def send(attempt: Attempt) -> Any:
        return await pool.request("sendTransaction", [SIGNED_TX, {"encoding": "base64"}])

    policy = RetryPolicy(clock=pools.clock, asleep=_no_sleep)
    assert await policy.acall(send, refresh_blockhash=refresh_blockhash) == "sig"
    assert node.methods() == ["sendTransaction", "getLatestBlockhash", "sendTransaction"]
    assert len(blockhashes) == 1
    assert [count(n, "sendTransaction") for n in nodes[1:]] == [0, 0]


async def test_a_json_rpc_rate_limit_in_a_200_also_defers_the_endpoint(
    nodes: list[SolanaNode], pools: Pools
) -> None:
    nodes[0].errors["getSlot"] = {"code": -32429, "message": "rate limited"}
    pool = pools.seeds()
    assert await pool.request("getSlot") == nodes[1].slot
    assert pool.status()[0].rate_limited_for_s == pytest.approx(1.0)  # no Retry-After: 1 s
    del nodes[0].errors["getSlot"]
    assert await pool.request("getSlot") == nodes[1].slot
    pools.clock.advance(1.0)
    assert await pool.request("getSlot") == nodes[0].slot


async def test_a_ping_that_hangs_counts_as_a_failed_sample(
    nodes: list[SolanaNode], pools: Pools
) -> None:
    nodes[0].hang = True
    pool = pools.seeds(sample_timeout_s=0.1)
    await pool.sample()
    status = {s.name: s for s in pool.status()}
    assert not status["helius"].healthy
    assert status["helius"].score == 0.0
    assert status["quicknode"].healthy
    assert pools.registry.get_sample_value("rpc_health_status", {"provider": "helius"}) == 0


async def test_started_pools_keep_sampling_on_their_interval(
    nodes: list[SolanaNode], pools: Pools
) -> None:
    intervals: list[float] = []

    async def asleep(seconds: float) -> None:
        intervals.append(seconds)
        await asyncio.sleep(0)

    pool = pools(pools.seed_endpoints(), config=PoolConfig(sample_interval_s=4.0), asleep=asleep)
    await pool.start()
    await eventually(lambda: count(nodes[2], "getSlot") >= 3)
    assert set(intervals) == {4.0}


async def test_durations_are_observed_per_provider_and_method(
    nodes: list[SolanaNode], pools: Pools
) -> None:
    pool = pools.seeds()
    await pool.request("getSlot")
    await pool.request("getSlot")
    labels = {"provider": "helius", "method": "getSlot"}
    assert pools.registry.get_sample_value("rpc_request_duration_seconds_count", labels) == 2


class TimeoutsOnTheClock:
    """The real transport, timing out on the test's clock: once a hung node holds a request,
    the clock moves on by that request's timeout and the request times out."""

    def __init__(self, nodes: list[SolanaNode], clock: ManualClock) -> None:
        self.nodes, self.clock = nodes, clock
        self.real = HttpxTransport()
        self.timeouts_s: list[float] = []

    async def post(
        self, url: str, body: bytes, *, headers: Mapping[str, str], timeout_s: float
    ) -> HttpReply:
        self.timeouts_s.append(timeout_s)
        node = next(n for n in self.nodes if url.startswith(n.url()))
        held = node.hanging
        sent = asyncio.create_task(self.real.post(url, body, headers=headers, timeout_s=3600.0))
        await eventually(lambda: node.hanging > held)
        sent.cancel()
        with contextlib.suppress(asyncio.CancelledError, TransportFailure):
            await sent
        self.clock.advance(timeout_s)
        raise TransportFailure("timed out", timeout=True, delivered=True)

    async def aclose(self) -> None:
        await self.real.aclose()


async def test_the_request_deadline_bounds_the_endpoints_tried(
    nodes: list[SolanaNode], clock: ManualClock, pools: Pools
) -> None:
    for node in nodes:
        node.hang = True
    # Time passes on the test's clock only, so no endpoint's slice depends on how busy
    # the machine is (real 0.2 s slices did, and failed under load).
    transport = TimeoutsOnTheClock(nodes, clock)
    pool = pools(
        pools.seed_endpoints(),
        config=PoolConfig(request_timeout_s=10.0, deadline_s=15.0),
        transport=transport,
    )
    try:
        with pytest.raises(NoEndpointAvailableError, match="public: deadline passed"):
            await pool.request("getSlot")
    finally:
        await transport.aclose()
    assert transport.timeouts_s == [10.0, 5.0]  # the second gets what is left
    assert [count(n, "getSlot") for n in nodes] == [1, 1, 0]


async def test_every_breaker_open_says_so(nodes: list[SolanaNode], pools: Pools) -> None:
    pool = pools.seeds()
    for node in nodes:
        node.status = 503
    for _ in range(5):  # opens every breaker
        with pytest.raises(NoEndpointAvailableError):
            await pool.request("getSlot")
    with pytest.raises(NoEndpointAvailableError, match="helius: breaker OPEN") as caught:
        await pool.request("getSlot")
    assert caught.value.errors == ()


async def test_params_that_are_not_json_are_the_callers_bug_not_a_failover(
    nodes: list[SolanaNode], pools: Pools
) -> None:
    pool = pools.seeds()
    with pytest.raises(TypeError):
        await pool.request("getBalance", [b"raw bytes"])
    assert all(n.requests == [] for n in nodes)
    labels = {"provider": "helius", "method": "getBalance", "outcome": "transport_error"}
    assert pools.registry.get_sample_value("rpc_requests_total", labels) is None


def test_endpoints_hash_and_keep_their_headers_private() -> None:
    endpoint = Endpoint("helius", "https://example.com/", headers={"x-api-key": SECRET})
    assert hash(endpoint) == hash(Endpoint("helius", "https://example.com/"))
    assert SECRET not in repr(endpoint)


async def test_get_health_in_the_sample_catches_a_node_that_says_it_is_behind(
    nodes: list[SolanaNode], pools: Pools
) -> None:
    nodes[0].behind = 40  # getHealth answers -32005; getSlot alone would not tell
    pool = pools(pools.seed_endpoints(), sampler=SolanaSlotSampler(check_health=True))
    await pool.sample()
    assert [s.name for s in pool.status() if not s.healthy] == ["helius"]
    assert pool.status()[-1].name == "helius"


async def test_a_retry_after_date_is_read_against_the_injected_clock(
    nodes: list[SolanaNode], pools: Pools
) -> None:
    assert pools.clock.now() == 1_700_000_000.0  # Tue, 14 Nov 2023 22:13:20 GMT
    nodes[0].status = 429
    nodes[0].headers["Retry-After"] = "Tue, 14 Nov 2023 22:13:30 GMT"
    pool = pools.seeds()
    await pool.request("getSlot")
    assert pool.status()[0].rate_limited_for_s == pytest.approx(10.0)


class NeverAnswers:
    """A plugged-in transport that ignores its ``timeout_s`` and never answers."""

    async def post(
        self, url: str, body: bytes, *, headers: Mapping[str, str], timeout_s: float
    ) -> HttpReply:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async def aclose(self) -> None:
        return None


async def test_the_pool_bounds_a_transport_that_ignores_its_timeout(
    nodes: list[SolanaNode], registry: CollectorRegistry, pools: Pools
) -> None:
    pool = pools(
        pools.seed_endpoints()[:1],
        config=PoolConfig(request_timeout_s=0.05),
        transport=NeverAnswers(),
    )
    async with asyncio.timeout(5):  # the test's own guard: without the pool's bound it hangs
        with pytest.raises(NoEndpointAvailableError, match="helius: timeout"):
            await pool.request("getSlot")
    assert requests_total(registry, "helius", "getSlot", "timeout") == 1
