"""The outbox's metrics, on the registry passed in."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

__all__ = ["NotifyMetrics"]


class NotifyMetrics:
    """Deliveries, failures and attempts per channel; attempt durations."""

    def __init__(self, registry: CollectorRegistry | None) -> None:
        self.deliveries = Counter(
            "notify_deliveries_total",
            "Notifications delivered, by channel.",
            ["channel"],
            registry=registry,
        )
        self.failures = Counter(
            "notify_failures_total",
            "Notifications given up (permanent failure or deadline passed), by channel.",
            ["channel"],
            registry=registry,
        )
        self.attempts = Counter(
            "notify_attempts_total",
            "Delivery attempts, by channel and outcome (ok, transient, permanent).",
            ["channel", "outcome"],
            registry=registry,
        )
        self.duration = Histogram(
            "notify_attempt_duration_seconds",
            "How long one delivery attempt took, by channel.",
            ["channel"],
            registry=registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )
