"""The store's and the scraper's own health on the warden's ``/metrics``, read at scrape
time (a collector, like the other components')."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from tradewarden.series._scrape import ScrapeManager
from tradewarden.series._store import SeriesStore

__all__ = ["SeriesCollector"]


class SeriesCollector(Collector):
    """``tradewarden_series_*`` and ``tradewarden_scrape_targets`` on ``registry``."""

    def __init__(
        self, registry: CollectorRegistry, store: SeriesStore, scrapes: ScrapeManager
    ) -> None:
        self._store = store
        self._scrapes = scrapes
        registry.register(self)

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        """Yield the current figures."""
        stats = self._store.stats()
        yield GaugeMetricFamily(
            "tradewarden_series", "Series held by the series store.", value=stats.series
        )
        yield GaugeMetricFamily(
            "tradewarden_series_samples", "Samples held by the series store.", value=stats.samples
        )
        yield GaugeMetricFamily(
            "tradewarden_series_bytes",
            "Memory the series store estimates it holds (its budget's measure).",
            value=stats.bytes,
        )
        yield GaugeMetricFamily(
            "tradewarden_series_max_bytes",
            "The series store's memory budget.",
            value=self._store.max_bytes,
        )
        dropped = CounterMetricFamily(
            "tradewarden_series_dropped_samples",
            "Samples not stored: older than or as old as their series' newest.",
            labels=["reason"],
        )
        dropped.add_metric(["out_of_order"], stats.out_of_order)
        dropped.add_metric(["duplicate"], stats.duplicates)
        yield dropped
        yield CounterMetricFamily(
            "tradewarden_series_refused",
            "New series refused because the store was over its memory budget.",
            value=stats.refused_series,
        )
        yield CounterMetricFamily(
            "tradewarden_series_dropped_chunks",
            "Chunks dropped by retention or the memory budget.",
            value=stats.dropped_chunks,
        )
        targets = GaugeMetricFamily(
            "tradewarden_scrape_targets",
            "Scrape targets by job and health.",
            labels=["job", "health"],
        )
        counts: dict[tuple[str, str], int] = {}
        for target in self._scrapes.targets():
            key = (target.job, target.health)
            counts[key] = counts.get(key, 0) + 1
        for (job, health), count in sorted(counts.items()):
            targets.add_metric([job, health], count)
        yield targets
