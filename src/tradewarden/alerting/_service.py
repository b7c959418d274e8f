"""The alerting side as one component: router, silences, inhibition and the dispatcher."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from prometheus_client import CollectorRegistry

from tradewarden.alerting._config import (
    InhibitRuleConfig,
    ReceiverConfig,
    RouteConfig,
    SeveritiesConfig,
)
from tradewarden.alerting._dispatch import Dispatcher, Enqueue, Escalation, FlushObserver
from tradewarden.alerting._inhibit import Inhibitor
from tradewarden.alerting._metrics import AlertingMetrics
from tradewarden.alerting._routing import Router
from tradewarden.alerting._silence_store import SilenceStore
from tradewarden.alerting._sink import DispatcherSink
from tradewarden.alerting._timeintervals import TimeInterval
from tradewarden.clock import Clock
from tradewarden.store import Database

__all__ = ["Alerting", "AlertingSections"]


class AlertingSections(Protocol):
    """The config file's sections alerting reads (``ServiceConfig`` has them)."""

    @property
    def route(self) -> RouteConfig | None: ...
    @property
    def receivers(self) -> tuple[ReceiverConfig, ...]: ...
    @property
    def inhibit_rules(self) -> tuple[InhibitRuleConfig, ...]: ...
    @property
    def time_intervals(self) -> tuple[TimeInterval, ...]: ...
    @property
    def severities(self) -> SeveritiesConfig: ...


class Alerting:
    """Build the tree and the dispatcher; ``start`` resumes the stored groups."""

    def __init__(
        self,
        database: Database,
        clock: Clock,
        config: AlertingSections,
        *,
        enqueue: Enqueue,
        per_alert_channels: Sequence[str] = (),
        escalation: Escalation | None = None,
        registry: CollectorRegistry | None = None,
        observers: Sequence[FlushObserver] = (),
    ) -> None:
        self.router = Router.from_config(config.route, config.receivers, config.severities)
        self.silences = SilenceStore(database, clock)
        per_alert = frozenset(per_alert_channels)
        self.dispatcher = Dispatcher(
            database,
            clock,
            self.router,
            enqueue=enqueue,
            silences=self.silences,
            inhibitor=Inhibitor(config.inhibit_rules),
            time_intervals=config.time_intervals,
            per_alert_channels=per_alert.__contains__,
            escalation=escalation,
            metrics=AlertingMetrics(registry),
            observers=observers,
        )
        self.sink = DispatcherSink(self.dispatcher)

    async def start(self, *, run: bool) -> None:
        """Load alerts, groups and silences; with ``run``, flush groups as they come due."""
        await self.dispatcher.load()
        if run:
            self.dispatcher.start()

    async def stop(self) -> None:
        """Stop flushing."""
        await self.dispatcher.stop()
