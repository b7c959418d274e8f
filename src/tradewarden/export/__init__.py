"""Exports for those who outgrow one box: Prometheus rules and config, Grafana dashboards."""

from tradewarden.export._grafana import DASHBOARD_UID, dashboard
from tradewarden.export._prometheus_config import (
    WardenTarget,
    prometheus_config,
    render_prometheus_config,
)
from tradewarden.export._rules import RuleFile, merge_rule_files, prometheus_rule_files

__all__ = [
    "DASHBOARD_UID",
    "RuleFile",
    "WardenTarget",
    "dashboard",
    "merge_rule_files",
    "prometheus_config",
    "prometheus_rule_files",
    "render_prometheus_config",
]
