"""The escalator's metrics, on the registry passed in (None: not exported)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

__all__ = ["EscalationMetrics"]


class EscalationMetrics:
    """Steps fired, acknowledgements and step failures, by policy."""

    def __init__(self, registry: CollectorRegistry | None) -> None:
        self.steps = Counter(
            "escalation_steps_total",
            "Escalation steps fired (their notifications stored in the outbox), by policy.",
            ["policy"],
            registry=registry,
        )
        self.acknowledgements = Counter(
            "escalation_acknowledgements_total",
            "Escalations acknowledged (API, CLI or signed link), by policy.",
            ["policy"],
            registry=registry,
        )
        self.failures = Counter(
            "escalation_step_failures_total",
            "Steps that could not be fired (rolled back, tried again), by policy.",
            ["policy"],
            registry=registry,
        )
