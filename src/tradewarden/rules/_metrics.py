"""The rule manager's own health on the warden's ``/metrics``, read at scrape time."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from tradewarden.rules._alerts import AlertState
from tradewarden.rules._manager import RuleManager
from tradewarden.rules._rules import RuleHealth

__all__ = ["RuleCollector"]

_GROUP = ["file", "group"]


class RuleCollector(Collector):
    """``tradewarden_rule_group_*`` and ``tradewarden_alerts`` on ``registry``."""

    def __init__(self, registry: CollectorRegistry, manager: RuleManager) -> None:
        self._manager = manager
        registry.register(self)

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        """Yield the current figures, one series per group."""
        last = GaugeMetricFamily(
            "tradewarden_rule_group_last_evaluation_timestamp_seconds",
            "When the group was last evaluated (0: never).",
            labels=_GROUP,
        )
        duration = GaugeMetricFamily(
            "tradewarden_rule_group_last_duration_seconds",
            "How long the group's rules took at its last evaluation.",
            labels=_GROUP,
        )
        interval = GaugeMetricFamily(
            "tradewarden_rule_group_interval_seconds",
            "The group's evaluation interval (it also runs when samples it reads arrive).",
            labels=_GROUP,
        )
        rules = GaugeMetricFamily(
            "tradewarden_rule_group_rules", "Rules in the group.", labels=_GROUP
        )
        failing = GaugeMetricFamily(
            "tradewarden_rule_group_rules_failing",
            "Rules whose last evaluation failed.",
            labels=_GROUP,
        )
        evaluations = CounterMetricFamily(
            "tradewarden_rule_group_evaluations",
            "Evaluations of the group since it was loaded.",
            labels=_GROUP,
        )
        failures = CounterMetricFamily(
            "tradewarden_rule_evaluation_failures",
            "Rule evaluations that failed since the group was loaded.",
            labels=_GROUP,
        )
        alerts = GaugeMetricFamily(
            "tradewarden_alerts",
            "Alerts by state (inactive: resolved, still reported for 15 minutes).",
            labels=["state"],
        )
        by_state = dict.fromkeys(AlertState, 0)
        for group in self._manager.groups():
            key = [group.spec.file, group.name]
            last.add_metric(key, (group.last_eval_ms or 0) / 1000)
            duration.add_metric(key, group.eval_duration_s)
            interval.add_metric(key, group.interval_ms / 1000)
            rules.add_metric(key, len(group.rules))
            failing.add_metric(key, sum(r.health is RuleHealth.ERR for r in group.rules))
            evaluations.add_metric(key, group.evaluations)
            failures.add_metric(key, group.failures)
            for rule in group.alerting_rules():
                for alert in rule.alerts():
                    by_state[alert.state] += 1
        for state, count in by_state.items():
            alerts.add_metric([state.value], count)
        yield from (last, duration, interval, rules, failing, evaluations, failures, alerts)
