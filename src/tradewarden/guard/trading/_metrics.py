"""The kill switch's metrics, read at scrape time from the switch itself."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from tradewarden.guard.trading._killswitch import KillSwitch

__all__ = ["TradingStateCollector", "register_trading_metrics"]


class TradingStateCollector(Collector):
    """Expose ``trading_state`` (ACTIVE 0, REDUCING 1, HALTED 2), its stored version, and
    ``trading_state_unreadable`` (1 while the stored state cannot be read)."""

    def __init__(self, kill_switch: KillSwitch) -> None:
        self._kill_switch = kill_switch

    def collect(self) -> Iterable[Metric]:
        """Return the current values."""
        switch = self._kill_switch
        yield GaugeMetricFamily(
            "trading_state",
            "Trading state in effect: ACTIVE 0, REDUCING 1, HALTED 2.",
            value=int(switch.state),
        )
        yield GaugeMetricFamily(
            "trading_state_version",
            "Version of the newest stored trading-state change seen by this process.",
            value=switch.current.version,
        )
        yield GaugeMetricFamily(
            "trading_state_unreadable",
            "1 while the stored trading state cannot be read (the unreadable policy applies).",
            value=int(switch.unreadable),
        )


def register_trading_metrics(
    kill_switch: KillSwitch, registry: CollectorRegistry
) -> TradingStateCollector:
    """Register the kill switch's collector on ``registry`` and return it."""
    collector = TradingStateCollector(kill_switch)
    registry.register(collector)
    return collector
