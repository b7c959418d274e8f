"""KPIs from what really happened: incidents, escalations, notifications, monitor flips.

``compute_kpis`` is the pure part (rows in, ``Kpis`` out); ``KpiService`` reads a window's
rows in one read session; ``KpiMetrics`` keeps the trailing 7 days as metrics, refreshed
in the background; ``render_weekly_review`` writes seed 004's weekly health check.
"""

from tradewarden.kpis._compute import alertname_of_title, availability_of, compute_kpis
from tradewarden.kpis._config import KpisConfig, KpiTargets
from tradewarden.kpis._metrics import KpiCollector, KpiMetrics
from tradewarden.kpis._model import (
    ActionItemRow,
    Availability,
    DurationStat,
    EscalationRow,
    FlipRow,
    IncidentCounts,
    IncidentRow,
    Kpi,
    Kpis,
    NoisyAlert,
    RatioStat,
    Window,
)
from tradewarden.kpis._service import (
    DEFAULT_WINDOW,
    MAX_WINDOW,
    KpiReport,
    KpiService,
    WindowError,
    window_of,
)
from tradewarden.kpis._weekly import (
    format_duration,
    previous_week,
    render_weekly_review,
    week_window,
)

__all__ = [
    "DEFAULT_WINDOW",
    "MAX_WINDOW",
    "ActionItemRow",
    "Availability",
    "DurationStat",
    "EscalationRow",
    "FlipRow",
    "IncidentCounts",
    "IncidentRow",
    "Kpi",
    "KpiCollector",
    "KpiMetrics",
    "KpiReport",
    "KpiService",
    "KpiTargets",
    "Kpis",
    "KpisConfig",
    "NoisyAlert",
    "RatioStat",
    "Window",
    "WindowError",
    "alertname_of_title",
    "availability_of",
    "compute_kpis",
    "format_duration",
    "previous_week",
    "render_weekly_review",
    "week_window",
    "window_of",
]
