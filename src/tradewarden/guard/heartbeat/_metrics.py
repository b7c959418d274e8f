"""The heartbeat clients' own metrics: a bot's Prometheus sees when the warden cannot."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from tradewarden.guard.heartbeat._client import AsyncHeartbeatClient, HeartbeatClient

Client = HeartbeatClient | AsyncHeartbeatClient

__all__ = ["HeartbeatCollector", "register_heartbeat_metrics"]


class HeartbeatCollector(Collector):
    """Expose ``heartbeat_client_pings_total{heartbeat,outcome}`` (sent, failed_attempt,
    dropped, rejected) and ``heartbeat_client_queued{heartbeat}``, read at scrape time."""

    def __init__(self, *clients: Client) -> None:
        self._clients = clients

    def collect(self) -> Iterable[Metric]:
        """Return the current values."""
        pings = CounterMetricFamily(
            "heartbeat_client_pings",
            "Heartbeat pings by outcome: sent, failed_attempt (retried), dropped (outbox "
            "full), rejected (refused by the warden).",
            labels=["heartbeat", "outcome"],
        )
        queued = GaugeMetricFamily(
            "heartbeat_client_queued", "Heartbeat pings waiting to be sent.", labels=["heartbeat"]
        )
        for client in self._clients:
            name, stats = client.config.name, client.stats
            pings.add_metric([name, "sent"], stats.sent)
            pings.add_metric([name, "failed_attempt"], stats.failed_attempts)
            pings.add_metric([name, "dropped"], stats.dropped)
            pings.add_metric([name, "rejected"], stats.rejected)
            queued.add_metric([name], stats.queued)
        yield pings
        yield queued


def register_heartbeat_metrics(registry: CollectorRegistry, *clients: Client) -> HeartbeatCollector:
    """Register a collector for ``clients`` on ``registry`` and return it."""
    collector = HeartbeatCollector(*clients)
    registry.register(collector)
    return collector
