"""Alerting: alerts in, Alertmanager-style routing, grouping, silences and inhibition.

Pure decisions (``route``, inhibition, silences, the dispatcher's timers) with the store
and the notifier behind narrow ports. Alerts come from the rule engine (an ``AlertSink``),
Prometheus (``/api/v2/alerts``), Alertmanager's webhook and a generic JSON webhook;
notifications leave through ``Notifier.enqueue``. Maintenance windows (the config file's,
once or on a cron schedule) mute like silences.
"""

from tradewarden.alerting._config import (
    InhibitRuleConfig,
    MaintenanceWindowConfig,
    ReceiverConfig,
    RouteConfig,
    SeveritiesConfig,
    SeverityPolicy,
    check_alerting,
)
from tradewarden.alerting._dispatch import FlushObserver
from tradewarden.alerting._maintenance import (
    MAINTENANCE_PREFIX,
    MaintenanceError,
    MaintenanceSchedule,
    MaintenanceWindow,
)
from tradewarden.alerting._matchers import MatcherError, format_matchers, parse_matchers
from tradewarden.alerting._model import Alert, Source, fingerprint
from tradewarden.alerting._routing import Route, RouteMatch, Router, build_route
from tradewarden.alerting._service import RELOADED_SECTIONS, Alerting, AlertingReload
from tradewarden.alerting._severity import severity_of
from tradewarden.alerting._timeintervals import TimeInterval, TimeIntervalSpec, TimeRange

__all__ = [
    "MAINTENANCE_PREFIX",
    "RELOADED_SECTIONS",
    "Alert",
    "Alerting",
    "AlertingReload",
    "FlushObserver",
    "InhibitRuleConfig",
    "MaintenanceError",
    "MaintenanceSchedule",
    "MaintenanceWindow",
    "MaintenanceWindowConfig",
    "MatcherError",
    "ReceiverConfig",
    "Route",
    "RouteConfig",
    "RouteMatch",
    "Router",
    "SeveritiesConfig",
    "SeverityPolicy",
    "Source",
    "TimeInterval",
    "TimeIntervalSpec",
    "TimeRange",
    "build_route",
    "check_alerting",
    "fingerprint",
    "format_matchers",
    "parse_matchers",
    "severity_of",
]
