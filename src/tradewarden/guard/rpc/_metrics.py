"""The pool's Prometheus metrics, on the registry the bot passes (never the global one)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["RpcMetrics"]

_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class RpcMetrics:
    """``rpc_requests_total``, ``rpc_request_duration_seconds``, ``rpc_health_status``,
    ``rpc_slot_lag``, labelled by provider name."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "rpc_requests",
            "JSON-RPC requests by provider, method and outcome.",
            ["provider", "method", "outcome"],
            registry=registry,
        )
        self.duration = Histogram(
            "rpc_request_duration_seconds",
            "Time from sending a JSON-RPC request to its answer (or failure).",
            ["provider", "method"],
            buckets=_BUCKETS,
            registry=registry,
        )
        self.health = Gauge(
            "rpc_health_status",
            "1 when the provider answers, keeps up and its breaker is closed; else 0.",
            ["provider"],
            registry=registry,
        )
        self.slot_lag = Gauge(
            "rpc_slot_lag",
            "How far the provider is behind the highest slot (height) of the pool.",
            ["provider"],
            registry=registry,
        )
