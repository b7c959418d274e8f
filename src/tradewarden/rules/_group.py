"""A rule group: its rules evaluated in order, their samples appended, stale markers for
series a rule no longer returns, and the ``for`` state restored from ``ALERTS_FOR_STATE``
(Prometheus's ``rules/group.go``)."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace

from tradewarden.rules._alerts import Alert
from tradewarden.rules._files import GroupSpec
from tradewarden.rules._rules import (
    AlertingRule,
    EvalContext,
    RecordingRule,
    Rule,
    RuleEvalError,
    RuleHealth,
    build_rule,
    for_state_labels,
)
from tradewarden.series import (
    STALE_NAN,
    LabelMatcher,
    Labels,
    MatchOp,
    Queryable,
    is_stale,
)

__all__ = ["Group", "restore_for_state"]


@dataclass(slots=True)
class Group:
    """One group of one file, with its rules' state."""

    spec: GroupSpec
    interval_ms: int
    rules: list[Rule] = field(init=False)
    previous: list[set[Labels]] = field(init=False)
    stale: set[Labels] = field(default_factory=set)
    last_eval_ms: int | None = None
    eval_duration_s: float = 0.0
    # Set when a reload replaced or removed the group: an evaluation in progress stops.
    retired: bool = False
    evaluations: int = 0  # since the group was loaded (a reload of the same group keeps it)
    failures: int = 0  # rule evaluations that failed

    def __post_init__(self) -> None:
        self.rules = [build_rule(spec) for spec in self.spec.rules]
        self.previous = [set() for _ in self.rules]

    @property
    def key(self) -> tuple[str, str]:
        """(file, name): a group's identity across reloads."""
        return (self.spec.file, self.spec.name)

    @property
    def name(self) -> str:
        """The group's name."""
        return self.spec.name

    def alerting_rules(self) -> list[AlertingRule]:
        """The group's alerting rules."""
        return [rule for rule in self.rules if isinstance(rule, AlertingRule)]

    def reads(self, names: frozenset[str]) -> bool:
        """Whether any rule reads one of ``names``."""
        return any(rule.reads(names) for rule in self.rules)

    def copy_state(self, old: Group) -> list[AlertingRule]:
        """Carry alerts and series over from the group this one replaces; the series of
        rules that are gone get stale markers at the next evaluation. Return the old
        alerting rules that are gone (their alerts were not carried over).

        A rule takes the state of an old rule of the same identity (Prometheus: kind, name
        and labels) and, first of all, of one with the same expression too: rules that
        differ only in their expression (the monitors' generated ``MonitorDown`` rules)
        keep their own alerts when one is added or removed before them. Otherwise old
        and new are paired in order, so an edited expression keeps its alerts."""
        old.retired = True
        self.last_eval_ms, self.eval_duration_s = old.last_eval_ms, old.eval_duration_s
        self.evaluations, self.failures = old.evaluations, old.failures
        self.stale |= old.stale
        pairs = _pair_rules(old.rules, self.rules)
        for i, rule in enumerate(self.rules):
            j = pairs.get(i)
            if j is None:
                continue
            previous = old.rules[j]
            self.previous[i] = old.previous[j]
            rule.health, rule.last_error = previous.health, previous.last_error
            rule.last_eval_ms, rule.eval_duration_s = (
                previous.last_eval_ms,
                previous.eval_duration_s,
            )
            if isinstance(rule, AlertingRule) and isinstance(previous, AlertingRule):
                rule.tracker.active = previous.tracker.active
                rule.restored = previous.restored
        matched = set(pairs.values())
        for j, series in enumerate(old.previous):
            if j not in matched:
                self.stale |= series
        return [
            rule
            for j, rule in enumerate(old.rules)
            if j not in matched and isinstance(rule, AlertingRule)
        ]

    def stale_series(self) -> set[Labels]:
        """Every series the group wrote at its last evaluation (marked stale when the
        group is removed)."""
        out = set(self.stale)
        for series in self.previous:
            out |= series
        return out

    async def evaluate(
        self,
        t_ms: int,
        ctx: EvalContext,
        write: Callable[[Sequence[tuple[Labels, float]]], None],
        *,
        only: frozenset[str] | None = None,
        series: frozenset[Labels] | None = None,
    ) -> list[AlertingRule]:
        """Evaluate the rules at ``t_ms`` (with ``only``: the rules that read those names,
        and those that read what an earlier rule just recorded); ``write`` each rule's
        samples and stale markers before the next rule runs (it may read them). Other
        tasks run between rules. Return the alerting rules evaluated without error.

        ``series``, with ``only``: the label sets those samples came in, when known. A
        rule none of whose selectors selects one of them is skipped too: its result
        cannot have changed (one monitor's check does not evaluate every monitor's rule).
        """
        ok: list[AlertingRule] = []
        spent = 0.0
        trigger = set(only) if only is not None else None
        recorded: set[str] = set()  # names this evaluation recorded: no series known
        for i, rule in enumerate(self.rules):
            if self.retired:
                return []
            if trigger is not None:
                if not rule.reads(frozenset(trigger)):
                    continue
                if (
                    series is not None
                    and (rule.names is None or rule.names.isdisjoint(recorded))
                    and not rule.reads_series(series)
                ):
                    continue
            started = time.perf_counter()
            self._evaluate_rule(i, rule, t_ms, ctx, write)
            if rule.health is RuleHealth.OK:
                if isinstance(rule, RecordingRule):
                    if trigger is not None:
                        trigger.add(rule.name)
                        recorded.add(rule.name)
                else:
                    ok.append(rule)
            rule.eval_duration_s = time.perf_counter() - started
            spent += rule.eval_duration_s
            await asyncio.sleep(0)  # a long group does not hold the API up
        if self.stale:
            write([(labels, STALE_NAN) for labels in self.stale])
            self.stale.clear()
        self.last_eval_ms = t_ms
        self.eval_duration_s = spent
        self.evaluations += 1
        return ok

    def _evaluate_rule(
        self,
        i: int,
        rule: Rule,
        t_ms: int,
        ctx: EvalContext,
        write: Callable[[Sequence[tuple[Labels, float]]], None],
    ) -> None:
        rule.last_eval_ms = t_ms
        try:
            samples = rule.evaluate(t_ms, ctx)
        except RuleEvalError as exc:
            rule.health, rule.last_error = RuleHealth.ERR, str(exc)
            self.failures += 1
            return
        rule.health, rule.last_error = RuleHealth.OK, ""
        returned = {labels for labels, _ in samples}
        gone = [(labels, STALE_NAN) for labels in self.previous[i] - returned]
        write([*samples, *gone])
        self.previous[i] = returned


def _pair_rules(old: Sequence[Rule], new: Sequence[Rule]) -> dict[int, int]:
    """Map each new rule's index to the old rule it takes the state of: same identity and
    expression first, then same identity in order."""
    free: dict[tuple[object, ...], list[int]] = {}
    for j, rule in enumerate(old):
        free.setdefault(rule.identity(), []).append(j)
    pairs: dict[int, int] = {}
    for exact in (True, False):
        for i, rule in enumerate(new):
            candidates = free.get(rule.identity())
            if i in pairs or not candidates:
                continue
            same = [j for j in candidates if old[j].spec.expr == rule.spec.expr]
            if exact and not same:
                continue
            j = same[0] if exact else candidates[0]
            candidates.remove(j)
            pairs[i] = j
    return pairs


def restore_for_state(
    rule: AlertingRule,
    storage: Queryable,
    t_ms: int,
    *,
    outage_tolerance_ms: int,
    grace_period_ms: int,
) -> None:
    """Restore the ``for`` clocks of the rule's active alerts from ``ALERTS_FOR_STATE``
    (Prometheus's ``RestoreForState``), then mark the rule restored.

    An alert seen within the outage tolerance gets its old active-at back, shifted by the
    time the warden was down (so it still waits its full ``for``, counting the time it
    had already been pending), and never fires sooner than the grace period from now.
    """
    hold = rule.spec.for_ms
    if hold < grace_period_ms:
        rule.restored = True
        return
    for alert in rule.alerts():
        labels = for_state_labels(alert)
        matchers = [LabelMatcher(name, MatchOp.EQUAL, value) for name, value in labels]
        last: tuple[int, float] | None = None
        for series in storage.select(matchers, t_ms - outage_tolerance_ms, t_ms):
            if len(series.labels) == len(labels) and series.timestamps:
                last = (series.timestamps[-1], series.values[-1])
                break
        if last is None or is_stale(last[1]) or math.isnan(last[1]):
            continue
        down_at_ms = (last[0] // 1000) * 1000
        restored_active_ms = int(last[1]) * 1000
        remaining = hold - (down_at_ms - restored_active_ms)
        if remaining <= 0:
            pass  # it was firing: the next evaluation makes it firing again if it still is
        elif remaining < grace_period_ms:
            restored_active_ms = t_ms + grace_period_ms - hold
        else:
            restored_active_ms += t_ms - down_at_ms
        alert.active_at_ms = restored_active_ms
    rule.restored = True


def sendable(
    rules: Iterable[AlertingRule], t_ms: int, resend_delay_ms: int, interval_ms: int
) -> list[Alert]:
    """The alerts to hand off now, as copies; marks them sent (Prometheus's sendAlerts)."""
    out: list[Alert] = []
    delta = max(resend_delay_ms, interval_ms)
    for rule in rules:
        for alert in rule.alerts():
            if not alert.needs_sending(t_ms, resend_delay_ms):
                continue
            alert.last_sent_ms = t_ms
            alert.valid_until_ms = t_ms + 4 * delta
            out.append(replace(alert))
    return out
