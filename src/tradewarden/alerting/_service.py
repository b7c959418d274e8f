"""The alerting side as one component: router, silences, inhibition and the dispatcher.

``reload(config)`` applies a new ``route``, ``receivers``, ``inhibit_rules``,
``time_intervals``, ``severities`` and ``maintenance_windows`` at once; channels and the
escalation sections are read at the next start.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from prometheus_client import CollectorRegistry

from tradewarden.alerting._config import (
    InhibitRuleConfig,
    MaintenanceWindowConfig,
    ReceiverConfig,
    RouteConfig,
    SeveritiesConfig,
)
from tradewarden.alerting._dispatch import Dispatcher, Enqueue, Escalation, FlushObserver
from tradewarden.alerting._inhibit import Inhibitor
from tradewarden.alerting._maintenance import MaintenanceWindow
from tradewarden.alerting._metrics import AlertingMetrics
from tradewarden.alerting._routing import Router
from tradewarden.alerting._silence_store import SilenceStore
from tradewarden.alerting._sink import DispatcherSink
from tradewarden.alerting._timeintervals import TimeInterval
from tradewarden.clock import Clock
from tradewarden.store import Database

__all__ = [
    "RELOADED_SECTIONS",
    "Alerting",
    "AlertingReload",
    "AlertingSections",
    "PreparedAlerting",
]


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
    @property
    def maintenance_windows(self) -> tuple[MaintenanceWindowConfig, ...]: ...


@dataclass(frozen=True)
class AlertingReload:
    """What a reload changed: each section by name, whether it differs from before."""

    changed: tuple[str, ...]
    unchanged: tuple[str, ...]


@dataclass(frozen=True)
class PreparedAlerting:
    """A config's router, inhibitor, time intervals and windows, built but not in force."""

    router: Router
    inhibitor: Inhibitor
    time_intervals: tuple[TimeInterval, ...]
    windows: tuple[MaintenanceWindow, ...]
    sections: dict[str, object]


RELOADED_SECTIONS = (
    "route",
    "receivers",
    "inhibit_rules",
    "time_intervals",
    "severities",
    "maintenance_windows",
)


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
        self.silences = SilenceStore(
            database, clock, [w.window() for w in config.maintenance_windows]
        )
        self._sections = _sections(config)
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

    def reload(self, config: AlertingSections) -> AlertingReload:
        """Route, inhibit, mute and time by ``config`` from now on (``prepare`` then
        ``apply``); the groups and their alerts stay."""
        return self.apply(self.prepare(config))

    def prepare(self, config: AlertingSections) -> PreparedAlerting:
        """Build everything ``config`` needs, changing nothing (ValueError when it cannot)."""
        return PreparedAlerting(
            router=Router.from_config(config.route, config.receivers, config.severities),
            inhibitor=Inhibitor(config.inhibit_rules),
            time_intervals=tuple(config.time_intervals),
            windows=tuple(w.window() for w in config.maintenance_windows),
            sections=_sections(config),
        )

    def apply(self, prepared: PreparedAlerting) -> AlertingReload:
        """Switch to what ``prepare`` built (nothing here can fail half-way)."""
        self.dispatcher.reconfigure(
            prepared.router, inhibitor=prepared.inhibitor, time_intervals=prepared.time_intervals
        )
        self.silences.set_windows(prepared.windows)
        self.router = prepared.router
        before, self._sections = self._sections, prepared.sections
        changed = tuple(n for n in RELOADED_SECTIONS if prepared.sections[n] != before[n])
        return AlertingReload(
            changed=changed, unchanged=tuple(n for n in RELOADED_SECTIONS if n not in changed)
        )

    async def start(self, *, run: bool) -> None:
        """Load alerts, groups and silences; with ``run``, flush groups as they come due."""
        await self.dispatcher.load()
        if run:
            self.dispatcher.start()

    async def stop(self) -> None:
        """Stop flushing."""
        await self.dispatcher.stop()


def _sections(config: AlertingSections) -> dict[str, object]:
    return {name: getattr(config, name) for name in RELOADED_SECTIONS}
