"""Alerting and recording rules in Prometheus's rule-file format: loading and validation,
Go-template annotations, the alert state machine, the rule manager and the alert hand-off.
"""

from tradewarden.rules._alerts import RESOLVED_RETENTION_MS, Alert, AlertState, AlertTracker, Found
from tradewarden.rules._config import (
    DEFAULT_RULES_SOURCE,
    MonitorRules,
    RulesConfig,
    build_rule_manager,
    load_rule_groups,
    rule_file_paths,
)
from tradewarden.rules._expr import InstantQuery, engine_query, metric_names, parse_expr
from tradewarden.rules._files import (
    GroupSpec,
    RuleLoadError,
    RuleProblem,
    RuleSpec,
    format_duration,
    load_rule_files,
    parse_duration_ms,
    parse_rule_document,
    parse_rule_text,
)
from tradewarden.rules._group import Group, restore_for_state
from tradewarden.rules._manager import RuleManager, RuleManagerOptions
from tradewarden.rules._metrics import RuleCollector
from tradewarden.rules._rules import (
    ALERTS,
    ALERTS_FOR_STATE,
    AlertingRule,
    EvalContext,
    RecordingRule,
    Rule,
    RuleEvalError,
    RuleHealth,
)
from tradewarden.rules._sink import AlertSink, MemorySink
from tradewarden.rules._template import (
    TemplateError,
    alert_template_data,
    check_template,
    expand_alert_template,
    expand_template,
    humanize,
    humanize_1024,
    humanize_duration,
    humanize_percentage,
    humanize_timestamp,
)

__all__ = [
    "ALERTS",
    "ALERTS_FOR_STATE",
    "DEFAULT_RULES_SOURCE",
    "RESOLVED_RETENTION_MS",
    "Alert",
    "AlertSink",
    "AlertState",
    "AlertTracker",
    "AlertingRule",
    "EvalContext",
    "Found",
    "Group",
    "GroupSpec",
    "InstantQuery",
    "MemorySink",
    "MonitorRules",
    "RecordingRule",
    "Rule",
    "RuleCollector",
    "RuleEvalError",
    "RuleHealth",
    "RuleLoadError",
    "RuleManager",
    "RuleManagerOptions",
    "RuleProblem",
    "RuleSpec",
    "RulesConfig",
    "TemplateError",
    "alert_template_data",
    "build_rule_manager",
    "check_template",
    "engine_query",
    "expand_alert_template",
    "expand_template",
    "format_duration",
    "humanize",
    "humanize_1024",
    "humanize_duration",
    "humanize_percentage",
    "humanize_timestamp",
    "load_rule_files",
    "load_rule_groups",
    "metric_names",
    "parse_duration_ms",
    "parse_expr",
    "parse_rule_document",
    "parse_rule_text",
    "restore_for_state",
    "rule_file_paths",
]
