"""Recording and alerting rules: one evaluation turns a query result into samples to
append (and, for alerting rules, into alert states), as Prometheus's ``rules`` package.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from tradewarden.rules._alerts import Alert, AlertState, AlertTracker, Found
from tradewarden.rules._expr import InstantQuery, metric_names, parse_expr, series_matchers
from tradewarden.rules._files import RuleSpec
from tradewarden.rules._template import AlertExpander, ExpansionCache
from tradewarden.series import METRIC_NAME, LabelMatcher, Labels

__all__ = [
    "ALERTS",
    "ALERTS_FOR_STATE",
    "AlertingRule",
    "EvalContext",
    "RecordingRule",
    "Rule",
    "RuleEvalError",
    "RuleHealth",
]

ALERTS = "ALERTS"
ALERTS_FOR_STATE = "ALERTS_FOR_STATE"


class RuleEvalError(Exception):
    """One rule's evaluation failed (query error, duplicate series, over the limit)."""


class RuleHealth(StrEnum):
    """A rule's health after its last evaluation (Prometheus's names)."""

    UNKNOWN = "unknown"
    OK = "ok"
    ERR = "err"


@dataclass(frozen=True, slots=True)
class EvalContext:
    """What a rule evaluation reads besides its own state."""

    query: InstantQuery
    external_labels: Mapping[str, str] = field(default_factory=dict)
    external_url: str = ""
    limit: int = 0
    group_labels: tuple[tuple[str, str], ...] = ()


@dataclass(slots=True)
class _RuleBase:
    spec: RuleSpec
    expr: Any = field(init=False)
    names: frozenset[str] | None = field(init=False)
    matchers: tuple[tuple[LabelMatcher, ...], ...] | None = field(init=False)
    health: RuleHealth = RuleHealth.UNKNOWN
    last_error: str = ""
    last_eval_ms: int | None = None
    eval_duration_s: float = 0.0

    def __post_init__(self) -> None:
        self.expr = parse_expr(self.spec.expr)
        self.names = metric_names(self.expr)
        self.matchers = series_matchers(self.expr)

    @property
    def name(self) -> str:
        """The rule's record or alert name."""
        return self.spec.name

    def identity(self) -> tuple[str, str, tuple[tuple[str, str], ...]]:
        """What a reload matches on to carry state over (Prometheus: name and labels)."""
        return (self.spec.kind, self.spec.name, self.spec.labels)

    def reads(self, names: frozenset[str]) -> bool:
        """Whether fresh samples of ``names`` should re-evaluate this rule now.

        A rule whose selectors name no metric (``{job="x"}``) would wake on every batch:
        it runs on its group's interval only.
        """
        return self.names is not None and not self.names.isdisjoint(names)

    def reads_series(self, series: Iterable[Labels]) -> bool:
        """Whether one of ``series`` (fresh samples) is one this rule's selectors select:
        a generated ``MonitorDown`` of monitor ``a`` is not evaluated for monitor ``b``'s
        check. True when the rule's matchers are unknown."""
        matchers = self.matchers
        if matchers is None:
            return True
        return any(
            all(m.matches(labels.get(m.name)) for m in alternative)
            for labels in series
            for alternative in matchers
        )

    def _query(self, ctx: EvalContext, t_ms: int) -> Sequence[tuple[Labels, float]]:
        try:
            return ctx.query(self.expr, t_ms)
        except Exception as exc:  # the engine's message is the rule's error
            raise RuleEvalError(str(exc) or type(exc).__name__) from exc


@dataclass(slots=True)
class RecordingRule(_RuleBase):
    """``record: name``: the result, renamed and relabelled, goes back into the store."""

    def evaluate(self, t_ms: int, ctx: EvalContext) -> list[tuple[Labels, float]]:
        """Return the samples to append at ``t_ms``."""
        out: dict[Labels, float] = {}
        extra = (*ctx.group_labels, *self.spec.labels)
        for labels, value in self._query(ctx, t_ms):
            pairs = [*labels.without_name(), *extra, (METRIC_NAME, self.spec.name)]
            result = Labels.from_pairs(pairs)
            if result in out:
                raise RuleEvalError(
                    "vector contains metrics with the same labelset after applying rule labels"
                )
            out[result] = value
        if ctx.limit > 0 and len(out) > ctx.limit:
            raise RuleEvalError(f"exceeded limit of {ctx.limit} with {len(out)} series")
        return list(out.items())


@dataclass(slots=True)
class AlertingRule(_RuleBase):
    """``alert: name``: label sets the expression returns become alerts."""

    tracker: AlertTracker = field(init=False)
    restored: bool = False
    _expansions: ExpansionCache = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        _RuleBase.__post_init__(self)
        self.tracker = AlertTracker(self.spec.for_ms, self.spec.keep_firing_for_ms)

    def alerts(self) -> list[Alert]:
        """The rule's active alerts (pending, firing, and resolved ones still kept)."""
        return list(self.tracker)

    def evaluate(self, t_ms: int, ctx: EvalContext) -> list[tuple[Labels, float]]:
        """Step the alerts at ``t_ms``; return the ``ALERTS``/``ALERTS_FOR_STATE`` samples
        (none until the ``for`` state has been restored, as Prometheus)."""
        found: dict[Labels, Found] = {}
        expander = AlertExpander(
            f"__alert_{self.spec.name}",
            ctx.external_labels,
            t_ms=t_ms,
            query=ctx.query,
            external_url=ctx.external_url,
            cache=self._expansions,
        )
        rule_labels = (*ctx.group_labels, *self.spec.labels)
        for labels, value in self._query(ctx, t_ms):
            pairs = [*labels.without_name()]
            pairs += [(k, expander.expand(v, labels, value)) for k, v in rule_labels]
            pairs.append(("alertname", self.spec.name))
            alert_labels = Labels.from_pairs(pairs)
            if alert_labels in found:
                raise RuleEvalError(
                    "vector contains metrics with the same labelset after applying alert labels"
                )
            annotations = tuple(
                (k, expander.expand(v, labels, value)) for k, v in self.spec.annotations
            )
            found[alert_labels] = Found(value, annotations)
        current = self.tracker.update(found, t_ms)
        if ctx.limit > 0 and len(current) > ctx.limit:
            self.tracker.clear()
            raise RuleEvalError(f"exceeded limit of {ctx.limit} with {len(current)} alerts")
        if not self.restored:
            return []
        out: list[tuple[Labels, float]] = []
        for alert in current:
            out.append((alerts_labels(alert), 1.0))
            out.append((for_state_labels(alert), alert.active_at_ms // 1000))
        return [(labels, float(value)) for labels, value in out]


Rule = RecordingRule | AlertingRule


def alerts_labels(alert: Alert) -> Labels:
    """The ``ALERTS`` series of an alert: its labels, ``alertstate`` and the name."""
    state = "firing" if alert.state is AlertState.FIRING else "pending"
    return Labels.from_pairs([*alert.labels, ("alertstate", state), (METRIC_NAME, ALERTS)])


def for_state_labels(alert: Alert) -> Labels:
    """The ``ALERTS_FOR_STATE`` series of an alert (value: active-at in seconds)."""
    return Labels.from_pairs([*alert.labels, (METRIC_NAME, ALERTS_FOR_STATE)])


def build_rule(spec: RuleSpec) -> Rule:
    """Return the rule object for a validated spec."""
    return RecordingRule(spec) if spec.kind == "record" else AlertingRule(spec)
