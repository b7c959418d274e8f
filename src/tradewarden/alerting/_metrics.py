"""The alerting side's metrics, on the registry passed in (none: not exported)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

from tradewarden.alerting._model import Source

__all__ = ["AlertingMetrics"]


class AlertingMetrics:
    """Alerts received by source; flushes by outcome; alerts and groups held."""

    def __init__(self, registry: CollectorRegistry | None) -> None:
        self.received = Counter(
            "alerting_alerts_received_total",
            "Alert reports received, by source (rules, prometheus, alertmanager, webhook...).",
            ["source"],
            registry=registry,
        )
        self.flushes = Counter(
            "alerting_flushes_total",
            "Group flushes, by outcome (notified, quiet: nothing new, muted: a time interval).",
            ["outcome"],
            registry=registry,
        )
        self.alerts = Gauge(
            "alerting_alerts",
            "Alerts held (firing or awaiting their resolution notice).",
            registry=registry,
        )
        self.groups = Gauge("alerting_groups", "Aggregation groups held.", registry=registry)
        for source in Source:  # every series from 0, so rate() sees the first
            self.received.labels(source.value)
        for outcome in ("notified", "quiet", "muted"):
            self.flushes.labels(outcome)
