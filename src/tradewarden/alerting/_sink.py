"""The rule engine's hand-off (``tradewarden.rules.AlertSink``) into the dispatcher."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

from sqlalchemy.exc import SQLAlchemyError

from tradewarden.alerting._model import Alert, Source
from tradewarden.errors import StoreError
from tradewarden.rules import AlertSink
from tradewarden.rules._alerts import Alert as RuleAlert
from tradewarden.rules._alerts import AlertState

__all__ = ["DispatcherSink", "FanOutAlertSink", "from_rule_alert"]

log = logging.getLogger(__name__)


def from_rule_alert(alert: RuleAlert, *, generator_url: str = "") -> Alert:
    """Translate a rule's alert (Prometheus's fields) to the alerting side's."""
    resolved = alert.state is AlertState.INACTIVE
    ends = alert.resolved_at_ms if resolved else alert.valid_until_ms
    return Alert(
        labels=alert.labels,
        annotations=dict(alert.annotations),
        starts_at_ms=alert.fired_at_ms or alert.active_at_ms,
        ends_at_ms=ends,
        generator_url=generator_url,
        source=Source.RULES,
    )


class _Ingest(Protocol):
    async def ingest(self, alerts: Sequence[Alert]) -> None: ...


class DispatcherSink:
    """An ``AlertSink`` that hands the rules' alerts to the dispatcher. A store outage is
    logged, not raised: the rules resend firing alerts every resend delay."""

    def __init__(self, dispatcher: _Ingest) -> None:
        self.dispatcher = dispatcher

    async def send(self, alerts: Sequence[RuleAlert]) -> None:
        """Translate and ingest."""
        try:
            await self.dispatcher.ingest([from_rule_alert(a) for a in alerts])
        except (StoreError, SQLAlchemyError, OSError):
            log.warning("alerting: %d rule alerts not stored (the store is down)", len(alerts))
        except Exception:
            log.exception("alerting: rule alerts not ingested")


class FanOutAlertSink:
    """Send to several sinks in turn (the rules' in-memory list and the dispatcher)."""

    def __init__(self, sinks: Sequence[AlertSink]) -> None:
        self.sinks = tuple(sinks)

    async def send(self, alerts: Sequence[RuleAlert]) -> None:
        """Send to each sink."""
        for sink in self.sinks:
            await sink.send(alerts)
