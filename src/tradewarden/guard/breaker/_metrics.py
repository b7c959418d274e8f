"""Breaker metrics for Prometheus, read at scrape time (the seeds' names).

A ``Counter.inc()`` costs about as much as the whole guarded call (a lock and a float add),
so breakers keep plain ints and this collector reads them when the registry is scraped.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from ._breaker import CircuitBreaker

__all__ = ["BreakerMetrics"]


class BreakerMetrics(Collector):
    """Export every tracked breaker on ``registry``.

    ``circuit_breaker_state{name}``: CLOSED 0, HALF_OPEN 0.5, OPEN 1 (FORCED_OPEN 1,
    DISABLED 0); ``circuit_breaker_failures_total``, ``circuit_breaker_successes_total``,
    ``circuit_breaker_rejected_total`` by ``name``; ``circuit_breaker_transitions_total``
    by ``name``, ``from`` and ``to``. Breakers are held weakly: one that is garbage
    collected leaves the output.
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self._breakers: weakref.WeakValueDictionary[str, CircuitBreaker] = (
            weakref.WeakValueDictionary()
        )
        registry.register(self)

    def track(self, *breakers: CircuitBreaker) -> None:
        """Export ``breakers``; a second breaker under a tracked name is refused."""
        for breaker in breakers:
            known = self._breakers.get(breaker.name)
            if known is not None and known is not breaker:
                raise ValueError(f"a breaker named {breaker.name!r} is already tracked")
            self._breakers[breaker.name] = breaker

    def describe(self) -> Iterator[Metric]:
        """Name the families without reading any breaker."""
        return iter(self._families())

    def collect(self) -> Iterator[Metric]:
        """Read every breaker once."""
        state, failures, successes, rejected, transitions = families = self._families()
        for name, breaker in sorted(self._breakers.items()):
            state.add_metric([name], breaker.state.gauge)
            failures.add_metric([name], breaker.failures_total)
            successes.add_metric([name], breaker.successes_total)
            rejected.add_metric([name], breaker.rejected_total)
            for (old, new), count in sorted(
                breaker.transitions().items(), key=lambda item: (item[0][0].value, item[0][1].value)
            ):
                transitions.add_metric([name, old.value, new.value], count)
        return iter(families)

    @staticmethod
    def _families() -> tuple[
        GaugeMetricFamily,
        CounterMetricFamily,
        CounterMetricFamily,
        CounterMetricFamily,
        CounterMetricFamily,
    ]:
        return (
            GaugeMetricFamily(
                "circuit_breaker_state",
                "Breaker state: CLOSED 0, HALF_OPEN 0.5, OPEN 1 (FORCED_OPEN 1, DISABLED 0).",
                labels=["name"],
            ),
            CounterMetricFamily(
                "circuit_breaker_failures", "Calls counted as failures.", labels=["name"]
            ),
            CounterMetricFamily(
                "circuit_breaker_successes", "Calls counted as successes.", labels=["name"]
            ),
            CounterMetricFamily(
                "circuit_breaker_rejected", "Calls refused without running.", labels=["name"]
            ),
            CounterMetricFamily(
                "circuit_breaker_transitions",
                "BreakerState transitions in this process.",
                labels=["name", "from", "to"],
            ),
        )
