"""The pool's breaker port: the local breaker, and the guard's CircuitBreaker plugged in."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from prometheus_client import CollectorRegistry

from support.solana_node import SolanaNode
from tradewarden.clock import ManualClock
from tradewarden.guard.breaker import BreakerConfig
from tradewarden.guard.rpc import (
    BreakerPort,
    CircuitBreakerPort,
    Endpoint,
    LocalBreaker,
    RpcPool,
    guard_breakers,
)


def fail(breaker: BreakerPort, times: int) -> None:
    for _ in range(times):
        permit = breaker.allow()
        assert permit is not None
        permit.record_failure()


@pytest.fixture(params=["local", "guard"])
def breaker(request: pytest.FixtureRequest, clock: ManualClock) -> BreakerPort:
    if request.param == "local":
        return LocalBreaker("helius", clock=clock)
    return guard_breakers(clock=clock)("helius")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


def test_five_failures_in_a_row_open_the_breaker(breaker: BreakerPort) -> None:
    fail(breaker, 4)
    assert breaker.state_name == "CLOSED"
    fail(breaker, 1)
    assert breaker.state_name == "OPEN"
    assert breaker.allow() is None


def test_a_success_resets_the_count(breaker: BreakerPort) -> None:
    fail(breaker, 4)
    permit = breaker.allow()
    assert permit is not None
    permit.record_success()
    fail(breaker, 4)
    assert breaker.state_name == "CLOSED"


def test_half_open_admits_one_trial_and_two_successes_close(
    breaker: BreakerPort, clock: ManualClock
) -> None:
    fail(breaker, 5)
    clock.advance(30.0)
    trial = breaker.allow()
    assert trial is not None
    assert breaker.allow() is None  # one trial at a time
    trial.record_success()
    second = breaker.allow()
    assert second is not None
    second.record_success()
    assert breaker.state_name == "CLOSED"


def test_a_failed_trial_opens_again(breaker: BreakerPort, clock: ManualClock) -> None:
    fail(breaker, 5)
    clock.advance(30.0)
    trial = breaker.allow()
    assert trial is not None
    trial.record_failure()
    assert breaker.state_name == "OPEN"


def test_concurrent_permits_keep_their_own_outcomes(clock: ManualClock) -> None:
    breaker = LocalBreaker("helius", clock=clock, failure_threshold=2)
    early = breaker.allow()  # admitted while closed, still running
    fail(breaker, 2)
    clock.advance(30.0)
    trial = breaker.allow()
    assert early is not None
    assert trial is not None
    early.record_success()  # stale: must not count as the trial's success
    assert breaker.state_name == "HALF_OPEN"
    trial.record_failure()
    assert breaker.state_name == "OPEN"


def test_the_guard_breaker_is_named_for_the_provider(clock: ManualClock) -> None:
    port = guard_breakers(BreakerConfig(failure_threshold=2), clock=clock)("quicknode")
    assert isinstance(port, CircuitBreakerPort)
    assert port.breaker.name == "rpc_quicknode"


@pytest.fixture
async def node() -> AsyncIterator[SolanaNode]:
    async with SolanaNode() as running:
        yield running


async def test_a_pool_runs_on_the_guards_breakers(node: SolanaNode, clock: ManualClock) -> None:
    breakers: dict[str, CircuitBreakerPort] = {}
    make = guard_breakers(BreakerConfig(failure_threshold=2), clock=clock)

    def factory(name: str) -> BreakerPort:
        port = make(name)
        assert isinstance(port, CircuitBreakerPort)
        breakers[name] = port
        return port

    async with SolanaNode() as backup:
        endpoints = [Endpoint("helius", node.url()), Endpoint("public", backup.url(), priority=2)]
        pool = RpcPool(
            endpoints, breaker_factory=factory, clock=clock, registry=CollectorRegistry()
        )
        node.status = 503
        try:
            for _ in range(3):
                assert await pool.request("getSlot") == backup.slot
            assert breakers["helius"].state_name == "OPEN"
            assert node.methods().count("getSlot") == 2  # the third was never sent
        finally:
            await pool.aclose()
