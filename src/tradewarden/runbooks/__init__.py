"""Runbooks: prose for the on-call operator plus automated diagnosis steps of safe kinds.

A runbook is a YAML file (``bundled/`` ships a set; ``runbooks.directories`` adds the
user's), found for an alert by its ``runbook`` annotation or its ``applies_to``. Its
automated steps (``promql``, ``http``, ``sql``, ``redis``, ``probe``) only read: SQL runs
in a read-only transaction after a load-time check, Redis commands come from an
allow-list checked before anything is sent. ``RunbookRunner`` runs them with timeouts and
never raises for a step; remediation ``actions`` are buttons, never run by the runner.
"""

from tradewarden.runbooks._config import ConnectionConfig, RunbooksConfig
from tradewarden.runbooks._loader import (
    RunbookCatalog,
    RunbookLoadError,
    bundled_files,
    load_runbooks,
    parse_runbook,
)
from tradewarden.runbooks._model import (
    ACTIONS,
    STEP_KINDS,
    Action,
    AppliesTo,
    HttpStep,
    ProbeStep,
    PromqlStep,
    RedisStep,
    Runbook,
    SqlStep,
    Step,
)
from tradewarden.runbooks._readonly import ReadOnlyError, check_redis_command, check_sql
from tradewarden.runbooks._result import StepResult, StepStatus
from tradewarden.runbooks._runner import OnStep, RunbookRunner

__all__ = [
    "ACTIONS",
    "STEP_KINDS",
    "Action",
    "AppliesTo",
    "ConnectionConfig",
    "HttpStep",
    "OnStep",
    "ProbeStep",
    "PromqlStep",
    "ReadOnlyError",
    "RedisStep",
    "Runbook",
    "RunbookCatalog",
    "RunbookLoadError",
    "RunbookRunner",
    "RunbooksConfig",
    "SqlStep",
    "Step",
    "StepResult",
    "StepStatus",
    "bundled_files",
    "check_redis_command",
    "check_sql",
    "load_runbooks",
    "parse_runbook",
]
