"""The hand-off of alerts: the port the alerting side implements, and the in-memory default."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from tradewarden.rules._alerts import Alert, AlertState
from tradewarden.series import Labels

__all__ = ["AlertSink", "MemorySink"]


class AlertSink(Protocol):
    """Where alerts go: called with alerts that became firing or resolved, and with
    firing alerts again every resend delay (as Prometheus sends to Alertmanager).

    ``valid_until_ms`` is when a receiver may consider a firing alert over if it hears
    nothing more (Alertmanager's ``endsAt``); a resolved alert has ``resolved_at_ms``.
    ``send`` should return quickly: a slow receiver queues on its side.
    """

    async def send(self, alerts: Sequence[Alert]) -> None:
        """Accept a batch of alerts."""
        ...


class MemorySink:
    """Keeps the last state sent of each alert (by label set), for the API and tests."""

    def __init__(self, *, max_alerts: int = 10_000) -> None:
        self._alerts: dict[Labels, Alert] = {}
        self._max = max_alerts
        self.batches = 0

    async def send(self, alerts: Sequence[Alert]) -> None:
        """Record the alerts; the oldest resolved ones go first past ``max_alerts``."""
        self.batches += 1
        for alert in alerts:
            self._alerts.pop(alert.labels, None)
            self._alerts[alert.labels] = alert
        while len(self._alerts) > self._max:
            resolved = [k for k, a in self._alerts.items() if a.state is AlertState.INACTIVE]
            self._alerts.pop(resolved[0] if resolved else next(iter(self._alerts)))

    def alerts(self) -> list[Alert]:
        """Every alert last sent, oldest first."""
        return list(self._alerts.values())

    def firing(self) -> list[Alert]:
        """The alerts whose last state sent is firing."""
        return [a for a in self._alerts.values() if a.state is AlertState.FIRING]
