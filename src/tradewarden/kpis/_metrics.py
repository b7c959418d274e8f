"""The trailing 7-day KPIs as metrics: recomputed in the background, served from a cache.

A scrape never reads the store: ``KpiMetrics`` refreshes its cached ``Kpis`` every
``refresh_interval_s`` in a task of its own, and the collector reports the last
computed value (nothing before the first refresh). A failed refresh keeps the last
value and counts the failure.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import structlog
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from tradewarden.kpis._model import DurationStat, Kpis
from tradewarden.kpis._service import DEFAULT_WINDOW, KpiService

__all__ = ["KpiCollector", "KpiMetrics"]

_log = structlog.stdlib.get_logger("tradewarden.kpis")


class KpiCollector(Collector):
    """Report the cached KPIs (no I/O at scrape time)."""

    def __init__(self) -> None:
        self.kpis: Kpis | None = None
        self.failures = 0
        self.refreshed_at: float | None = None

    def collect(self) -> Iterator[Metric]:
        """Yield the last computed KPIs."""
        failures = CounterMetricFamily(
            "tradewarden_kpi_refresh_failures",
            "KPI refreshes that failed (the metrics keep the last computed values).",
        )
        failures.add_metric([], self.failures)
        yield failures
        kpis = self.kpis
        if kpis is None:
            return
        refreshed = GaugeMetricFamily(
            "tradewarden_kpi_computed_timestamp_seconds",
            "When the KPIs below were computed (Unix time).",
        )
        refreshed.add_metric([], kpis.now.timestamp())
        yield refreshed
        for name, stats, what in (
            ("mttd", kpis.mttd, "detect"),
            ("mtta", kpis.mtta, "acknowledge"),
            ("mttr", kpis.mttr, "resolve"),
        ):
            yield self._durations(name, stats, what)
        for name, ratio, help_text in (
            (
                "alert_noise_ratio",
                kpis.alert_noise.ratio,
                "Share of decided alert groups resolved unacknowledged or false positive.",
            ),
            (
                "ack_within_5m_ratio",
                kpis.ack_within_5m.ratio,
                "Share of notified alert groups acknowledged within 5 minutes.",
            ),
            (
                "p0p1_resolved_within_2h_ratio",
                kpis.p0p1_resolved_within_2h.ratio,
                "Share of P0/P1 incidents resolved within 2 hours of their impact start.",
            ),
        ):
            family = GaugeMetricFamily(f"tradewarden_kpi_{name}", f"{help_text} Last 7 days.")
            if ratio is not None:
                family.add_metric([], ratio)
            yield family
        availability = GaugeMetricFamily(
            "tradewarden_monitor_availability_ratio",
            "Share of the last 7 days each monitor was UP or DEGRADED (PENDING and PAUSED "
            "not counted); absent when unknown.",
            labels=["monitor"],
        )
        for monitor, a in kpis.availability.items():
            if a.ratio is not None:
                availability.add_metric([monitor], a.ratio)
        yield availability

    @staticmethod
    def _durations(name: str, stats: Mapping[str, DurationStat], what: str) -> Metric:
        family = GaugeMetricFamily(
            f"tradewarden_kpi_{name}_seconds",
            f"Mean time to {what} of the last 7 days' incidents, by severity (all: every one).",
            labels=["severity"],
        )
        for severity, stat in stats.items():
            if stat.mean_s is not None:
                family.add_metric([severity], stat.mean_s)
        return family


@dataclass
class KpiMetrics:
    """Keep ``collector`` fed with the trailing 7-day KPIs of ``service``."""

    service: KpiService
    registry: CollectorRegistry
    interval_s: float = 60.0
    collector: KpiCollector = field(default_factory=KpiCollector)
    _task: asyncio.Task[None] | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.registry.register(self.collector)

    async def refresh(self) -> Kpis | None:
        """Compute the trailing KPIs now and cache them; None when the store failed."""
        try:
            kpis = await self.service.compute(self.service.trailing(DEFAULT_WINDOW))
        except Exception:  # noqa: BLE001  # a store outage must not end the refresh loop
            self.collector.failures += 1
            _log.warning("kpi_refresh_failed", exc_info=True)
            return None
        self.collector.kpis = kpis
        return kpis

    def start(self) -> None:
        """Refresh now and every ``interval_s`` (0: never)."""
        if self.interval_s > 0 and self._task is None:
            self._task = asyncio.create_task(self._run(), name="kpi-metrics")

    async def stop(self) -> None:
        """Stop refreshing."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            await self.refresh()
            await asyncio.sleep(self.interval_s)
