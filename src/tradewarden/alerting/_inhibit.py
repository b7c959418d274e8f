"""Inhibition, pure: a firing source alert mutes target alerts with equal labels.

Alertmanager's rule (``inhibit/inhibit.go``): an alert matching a rule's target matchers
is muted while an unresolved alert matching the source matchers has the same values
(absent counts as empty) of every ``equal`` label. An alert that matches both sides is
not muted by alerts that also match the target (so it cannot mute itself).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from tradewarden.alerting._config import InhibitRuleConfig
from tradewarden.alerting._matchers import Matchers, matches
from tradewarden.alerting._model import Alert

__all__ = ["InhibitRule", "Inhibitor"]


@dataclass(frozen=True, slots=True)
class InhibitRule:
    """One rule, with its matchers parsed."""

    source: Matchers
    target: Matchers
    equal: tuple[str, ...]

    @classmethod
    def of(cls, config: InhibitRuleConfig) -> InhibitRule:
        """Build the rule of a config entry."""
        return cls(config.source(), config.target(), config.equal)


class Inhibitor:
    """Answer whether an alert is inhibited, given the alerts currently known."""

    def __init__(self, rules: Iterable[InhibitRuleConfig | InhibitRule]) -> None:
        self.rules = tuple(r if isinstance(r, InhibitRule) else InhibitRule.of(r) for r in rules)

    def inhibited_by(self, alert: Alert, alerts: Sequence[Alert], now_ms: int) -> str | None:
        """Return the fingerprint of an alert that mutes ``alert``, or None."""
        return self.index(alerts, now_ms)(alert)

    def index(self, alerts: Sequence[Alert], now_ms: int) -> Callable[[Alert], str | None]:
        """Return ``inhibited_by`` over ``alerts`` with the sources indexed by their
        ``equal`` values: one pass over the alerts, then a lookup per rule and target
        (a storm of a thousand alerts is not a million comparisons)."""
        tables: list[dict[tuple[str, ...], list[Alert]]] = []
        for rule in self.rules:
            table: dict[tuple[str, ...], list[Alert]] = {}
            for source in alerts:
                if not source.resolved(now_ms) and matches(rule.source, source.labels):
                    key = tuple(source.labels.get(n) for n in rule.equal)
                    table.setdefault(key, []).append(source)
            tables.append(table)

        def inhibited_by(alert: Alert) -> str | None:
            labels = alert.labels
            for rule, table in zip(self.rules, tables, strict=True):
                if not table or not matches(rule.target, labels):
                    continue
                two_sided = matches(rule.source, labels)
                for source in table.get(tuple(labels.get(n) for n in rule.equal), ()):
                    if two_sided and matches(rule.target, source.labels):
                        continue
                    return source.fingerprint
            return None

        return inhibited_by
