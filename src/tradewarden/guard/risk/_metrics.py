"""The risk engine's metrics, read at scrape time."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from tradewarden.guard.risk._engine import RiskEngine

__all__ = ["RiskCollector", "register_risk_metrics"]


class RiskCollector(Collector):
    """Expose ``risk_daily_pnl``, ``risk_drawdown_ratio`` (0 to 1, from the equity peak)
    and ``risk_limit_breaches_total{limit}`` (every configured limit, from 0)."""

    def __init__(self, engine: RiskEngine) -> None:
        self._engine = engine

    def collect(self) -> Iterable[Metric]:
        """Return the current values; the gauges appear after the first snapshot."""
        engine = self._engine
        daily_pnl, ratio = engine.daily_pnl, engine.drawdown_ratio
        if daily_pnl is not None:
            yield GaugeMetricFamily(
                "risk_daily_pnl",
                "Equity minus the trading day's starting equity, in the quote currency.",
                value=daily_pnl,
            )
        if ratio is not None:
            yield GaugeMetricFamily(
                "risk_drawdown_ratio", "Fall of equity from its peak, as a ratio.", value=ratio
            )
        breaches = CounterMetricFamily(
            "risk_limit_breaches", "Risk limit breaches reported.", labels=["limit"]
        )
        for limit, count in sorted(dict(engine.breach_counts).items()):
            breaches.add_metric([limit], count)
        yield breaches


def register_risk_metrics(engine: RiskEngine, registry: CollectorRegistry) -> RiskCollector:
    """Register the engine's collector on ``registry`` and return it."""
    collector = RiskCollector(engine)
    registry.register(collector)
    return collector
