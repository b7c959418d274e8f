"""The KPIs of a window, read from the store in one read session."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tradewarden.clock import Clock, utc_datetime
from tradewarden.kpis._compute import compute_kpis
from tradewarden.kpis._config import KpiTargets
from tradewarden.kpis._model import ActionItemRow, IncidentRow, Kpis, Window
from tradewarden.kpis._reader import KpiReader
from tradewarden.store import Database

__all__ = ["DEFAULT_WINDOW", "MAX_WINDOW", "KpiReport", "KpiService", "WindowError", "window_of"]

DEFAULT_WINDOW = timedelta(days=7)
MAX_WINDOW = timedelta(days=366)


class WindowError(ValueError):
    """A KPI window that cannot be: ``field`` names the parameter at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class KpiReport:
    """The KPIs of a window plus what the weekly review lists beside them."""

    kpis: Kpis
    incidents: tuple[IncidentRow, ...]
    overdue_action_items: tuple[ActionItemRow, ...]


@dataclass
class KpiService:
    """Compute KPIs from the store; ``monitors`` names the monitors running now."""

    database: Database
    clock: Clock
    targets: KpiTargets = field(default_factory=KpiTargets)
    monitors: Callable[[], Iterable[str]] = lambda: ()

    def trailing(self, length: timedelta = DEFAULT_WINDOW) -> Window:
        """Return the window of the last ``length`` up to now."""
        now = utc_datetime(self.clock.now())
        return Window(now - length, now)

    async def compute(self, window: Window) -> Kpis:
        """Return the KPIs of ``window``."""
        return (await self.report(window, action_items=False)).kpis

    async def report(self, window: Window, *, action_items: bool = True) -> KpiReport:
        """Return the KPIs of ``window`` with its incidents and the overdue action items."""
        now = utc_datetime(self.clock.now())
        async with self.database.read_session() as session:
            reader = KpiReader(session)
            incidents = await reader.incidents(window)
            escalations = await reader.escalations(window)
            flips = await reader.flips(window)
            titles = await reader.notification_titles(window)
            overdue = await reader.overdue_action_items(now.date()) if action_items else []
        kpis = compute_kpis(
            incidents,
            escalations,
            flips,
            window,
            now=now,
            targets=self.targets,
            notification_titles=titles,
            monitors=list(self.monitors()),
        )
        return KpiReport(kpis, tuple(incidents), tuple(overdue))


def window_of(start: datetime | None, end: datetime | None, now: datetime) -> Window:
    """Return the window from ``start`` to ``end`` (defaults: 7 days before ``end``, now);
    raise WindowError naming ``from`` or ``to`` when it is backwards or too long."""
    stop = end if end is not None else now
    begin = start if start is not None else stop - DEFAULT_WINDOW
    if stop <= begin:
        raise WindowError("to", "must be after from")
    if stop - begin > MAX_WINDOW:
        raise WindowError("to", f"a window spans at most {MAX_WINDOW.days} days")
    return Window(begin, stop)
