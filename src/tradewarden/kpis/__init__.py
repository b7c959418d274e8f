"""KPIs from what really happened: incidents, escalations, notifications, monitor flips."""

from tradewarden.kpis._config import KpisConfig, KpiTargets

__all__ = ["KpiTargets", "KpisConfig"]
