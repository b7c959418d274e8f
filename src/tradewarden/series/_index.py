"""The label index: postings (label name → value → series ids) and matcher resolution.

A ``=`` is one dict lookup; a regex is matched against the values of its one label, never
against series; matchers that also match a missing label (``a!="x"``, ``a=~"x|"``,
``a=""``) subtract the series whose value fails them instead of scanning the others.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from tradewarden.series._labels import LabelMatcher, Labels, MatchOp

__all__ = ["Postings"]


class Postings:
    """Series ids by label name and value."""

    def __init__(self) -> None:
        self._by_name: dict[str, dict[str, set[int]]] = {}
        self._all: set[int] = set()

    def add(self, series_id: int, labels: Labels) -> None:
        """Index a new series."""
        self._all.add(series_id)
        for name, value in labels:
            self._by_name.setdefault(name, {}).setdefault(value, set()).add(series_id)

    def remove(self, series_id: int, labels: Labels) -> None:
        """Forget a dropped series."""
        self._all.discard(series_id)
        for name, value in labels:
            values = self._by_name.get(name)
            if values is None:
                continue
            ids = values.get(value)
            if ids is None:
                continue
            ids.discard(series_id)
            if not ids:
                del values[value]
                if not values:
                    del self._by_name[name]

    def label_values(self, name: str) -> list[str]:
        """Every value ``name`` has on some series, sorted."""
        return sorted(self._by_name.get(name, {}))

    def label_names(self) -> list[str]:
        """Every label name of some series, sorted."""
        return sorted(self._by_name)

    def resolve(self, matchers: Sequence[LabelMatcher]) -> set[int]:
        """The ids of the series matching every matcher."""
        positive: list[set[int]] = []
        negative: list[LabelMatcher] = []
        for matcher in matchers:
            if matcher.matches_empty():
                negative.append(matcher)
            else:
                positive.append(self._matching(matcher))
        if positive:
            positive.sort(key=len)
            result = set(positive[0])
            for ids in positive[1:]:
                result &= ids
                if not result:
                    return result
        else:
            result = set(self._all)
        for matcher in negative:
            if not result:
                break
            result -= self._failing(matcher)
        return result

    def _matching(self, matcher: LabelMatcher) -> set[int]:
        """Series with the label and a value the matcher accepts (it rejects "")."""
        values = self._by_name.get(matcher.name)
        if not values:
            return set()
        if matcher.op is MatchOp.EQUAL:
            return values.get(matcher.value, set())
        if matcher.op is MatchOp.REGEX and (literals := _literals(matcher.value)) is not None:
            return _union(values.get(value, set()) for value in literals)
        return _union(ids for value, ids in values.items() if matcher.matches(value))

    def _failing(self, matcher: LabelMatcher) -> set[int]:
        """Series with the label and a value the matcher rejects (it accepts "")."""
        values = self._by_name.get(matcher.name)
        if not values:
            return set()
        if matcher.op is MatchOp.NOT_EQUAL:
            return values.get(matcher.value, set())
        return _union(ids for value, ids in values.items() if not matcher.matches(value))


def _literals(pattern: str) -> list[str] | None:
    """The alternatives of ``a|b|c`` when each is plain text (a lookup each, no scan)."""
    parts = pattern.split("|")
    if all(part and re.escape(part) == part for part in parts):
        return parts
    return None


def _union(sets: Iterable[set[int]]) -> set[int]:
    result: set[int] = set()
    for ids in sets:
        result |= ids
    return result
