"""Default alert rules for the configured monitors, generated (a pure function of the specs).

Every monitor gets a ``MonitorDown`` alert on the series its results are written as
(``monitor_state{monitor, state}``, see ``probes/_metrics.py``). The failure policy is
applied before that series says DOWN (N failures in a row, or a failed share of a
window), so the rule needs no ``for`` of its own: it fires on the check that took the
monitor DOWN. A heartbeat also gets ``HeartbeatMissed`` on the time of its last ping,
which says how long the bot has been silent rather than only that it has.

The output is a Prometheus rule group as a plain mapping, so the same value is loaded
by the warden and written out by ``tradewarden export prometheus-rules``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any

from tradewarden.probes._spec import ConsecutivePolicy, FailurePolicy, MonitorSpec

__all__ = ["DEFAULT_GROUP", "default_rule_file", "default_rules"]

DEFAULT_GROUP = "tradewarden-monitors"
_RUNBOOK = "docs/runbooks/monitors.md#"
# Labels the generated rules set themselves; a monitor's own label of that name is not
# copied (it would silently replace the alert's identity or severity).
_RESERVED = frozenset({"alertname", "monitor", "kind", "severity", "__name__"})


def default_rules(monitors: Iterable[MonitorSpec]) -> dict[str, Any]:
    """Return the rule group of the default alerts for ``monitors`` (sorted by name)."""
    specs = sorted(monitors, key=lambda spec: spec.name)
    rules: list[dict[str, Any]] = []
    for spec in specs:
        rules.append(_down_rule(spec))
        if spec.kind == "heartbeat":
            rules.append(_missed_rule(spec))
    group: dict[str, Any] = {"name": DEFAULT_GROUP, "interval": _interval(specs)}
    group["rules"] = rules
    return group


def default_rule_file(monitors: Iterable[MonitorSpec]) -> dict[str, Any]:
    """Return a Prometheus rule file holding the default group."""
    return {"groups": [default_rules(monitors)]}


def _interval(specs: list[MonitorSpec]) -> str:
    # Evaluate as often as the most frequent monitor checks (the warden also evaluates
    # when new samples arrive); whole seconds, between 1 s and 1 min.
    fastest = min((spec.interval_s for spec in specs), default=30.0)
    return f"{min(60, max(1, math.floor(fastest)))}s"


def _selector(metric: str, **matchers: str) -> str:
    # json.dumps quotes and escapes a string as PromQL's double-quoted literals read it.
    inner = ",".join(f"{name}={json.dumps(value)}" for name, value in matchers.items())
    return f"{metric}{{{inner}}}"


def _literal(text: str) -> str:
    """Return ``text`` as template text that expands to itself (no ``{{`` actions)."""
    return text.replace("{{", "{{`{{`}}")


def _labels(spec: MonitorSpec, severity: str) -> dict[str, str]:
    copied = {k: _literal(v) for k, v in sorted(spec.labels.items()) if k not in _RESERVED}
    return {**copied, "kind": spec.kind, "severity": severity}


def _policy_text(policy: FailurePolicy, interval_s: float) -> str:
    every = f"checked every {interval_s:g} s"
    if isinstance(policy, ConsecutivePolicy):
        if policy.down_after == 1:
            return f"a failed check ({every})"
        return f"{policy.down_after} failed checks in a row ({every})"
    return (
        f"at least {policy.rate:.0%} of its last {policy.window} checks failing "
        f"(from {policy.min_results} checks on; {every})"
    )


def _down_rule(spec: MonitorSpec) -> dict[str, Any]:
    name = _literal(spec.name)
    return {
        "alert": "MonitorDown",
        "expr": _selector("monitor_state", monitor=spec.name, state="DOWN") + " == 1",
        "labels": _labels(spec, "critical"),
        "annotations": {
            "summary": f"Monitor {name} is DOWN",
            "description": (
                f"The {spec.kind} monitor {{{{ $labels.monitor }}}} went DOWN after "
                f"{_policy_text(spec.failure, spec.interval_s)}."
            ),
            "runbook_url": f"{_RUNBOOK}monitordown",
        },
    }


def _missed_rule(spec: MonitorSpec) -> dict[str, Any]:
    period_s = float(getattr(spec, "period_s", 0.0))
    grace_s = float(getattr(spec, "grace_s", 0.0))
    deadline_s = period_s + grace_s
    last_seen = _selector("heartbeat_last_seen_timestamp_seconds", monitor=spec.name)
    return {
        "alert": "HeartbeatMissed",
        # The probe's sample repeats the heartbeat's name as `name` (as on /metrics); the
        # alert is the monitor's, so that copy is dropped (a `name` matcher meant for
        # breakers must not catch heartbeats). `without`, not `by (monitor)`: a Prometheus
        # scraping the warden keeps its job and instance, as on MonitorDown.
        "expr": f"time() - max without (name) ({last_seen}) > {deadline_s:g}",
        "labels": _labels(spec, "critical"),
        "annotations": {
            "summary": f"Heartbeat {_literal(spec.name)} missed",
            "description": (
                "No ping for {{ $value | humanizeDuration }} (expected every "
                f"{period_s:g} s, with {grace_s:g} s of grace)."
            ),
            "runbook_url": f"{_RUNBOOK}heartbeatmissed",
        },
    }
