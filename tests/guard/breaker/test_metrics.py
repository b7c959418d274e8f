"""Metrics under the seeds' names, read from the breakers at scrape time."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from tradewarden.clock import ManualClock
from tradewarden.guard.breaker import BreakerConfig, BreakerMetrics, CircuitBreaker

from .conftest import fail, succeed


def sample(registry: CollectorRegistry, metric: str, **labels: str) -> float | None:
    return registry.get_sample_value(metric, labels)


def test_state_gauge_follows_the_seeds_scale(clock: ManualClock) -> None:
    registry = CollectorRegistry()
    breaker = CircuitBreaker("rpc_pool", BreakerConfig(failure_threshold=1), clock=clock)
    BreakerMetrics(registry).track(breaker)
    assert sample(registry, "circuit_breaker_state", name="rpc_pool") == 0
    fail(breaker)
    assert sample(registry, "circuit_breaker_state", name="rpc_pool") == 1
    clock.advance(30)
    assert sample(registry, "circuit_breaker_state", name="rpc_pool") == 0.5
    breaker.force_open()
    assert sample(registry, "circuit_breaker_state", name="rpc_pool") == 1
    breaker.disable()
    assert sample(registry, "circuit_breaker_state", name="rpc_pool") == 0


def test_counters_and_transitions(clock: ManualClock) -> None:
    registry = CollectorRegistry()
    breaker = CircuitBreaker("rpc_pool", BreakerConfig(failure_threshold=2), clock=clock)
    BreakerMetrics(registry).track(breaker)
    succeed(breaker, 3)
    fail(breaker, 2)
    with pytest.raises(Exception, match="OPEN"):
        breaker.call(lambda: None)
    assert sample(registry, "circuit_breaker_successes_total", name="rpc_pool") == 3
    assert sample(registry, "circuit_breaker_failures_total", name="rpc_pool") == 2
    assert sample(registry, "circuit_breaker_rejected_total", name="rpc_pool") == 1
    labels = {"name": "rpc_pool", "from": "CLOSED", "to": "OPEN"}
    assert registry.get_sample_value("circuit_breaker_transitions_total", labels) == 1
    text = generate_latest(registry).decode()
    assert "# TYPE circuit_breaker_state gauge" in text


def test_two_breakers_under_one_name_are_refused(clock: ManualClock) -> None:
    metrics = BreakerMetrics(CollectorRegistry())
    first = CircuitBreaker("a", clock=clock)
    metrics.track(first, first)
    with pytest.raises(ValueError, match="already tracked"):
        metrics.track(CircuitBreaker("a", clock=clock))


def test_each_registry_is_its_own(clock: ManualClock) -> None:
    for _ in range(2):  # no duplicated-timeseries error: nothing global
        registry = CollectorRegistry()
        breaker = CircuitBreaker("a", clock=clock)
        BreakerMetrics(registry).track(breaker)
        assert sample(registry, "circuit_breaker_state", name="a") == 0


def test_a_collected_breaker_leaves_the_output(clock: ManualClock) -> None:
    registry = CollectorRegistry()
    BreakerMetrics(registry).track(CircuitBreaker("gone", clock=clock))
    assert sample(registry, "circuit_breaker_state", name="gone") is None
