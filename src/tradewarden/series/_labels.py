"""Label sets and label matchers: the one representation every part of the metrics engine
(store, scraper, PromQL evaluator, rules) shares.

A :class:`Labels` is an immutable, hashable tuple of ``(name, value)`` pairs sorted by
name, with no empty values (Prometheus treats an empty label value as an absent label).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache

__all__ = ["METRIC_NAME", "LabelMatcher", "Labels", "MatchOp"]

METRIC_NAME = "__name__"


class Labels(tuple[tuple[str, str], ...]):
    """An immutable label set, sorted by name; empty values are dropped."""

    __slots__ = ()

    @classmethod
    def of(cls, mapping: Mapping[str, str] | None = None, /, **labels: str) -> Labels:
        """Build from a mapping and/or keyword arguments."""
        items = dict(mapping or {})
        items.update(labels)
        return cls.from_pairs(items.items())

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[str, str]]) -> Labels:
        """Build from ``(name, value)`` pairs; a later pair wins over an earlier one."""
        return tuple.__new__(cls, sorted({k: v for k, v in pairs if v != ""}.items()))

    def get(self, name: str, default: str = "") -> str:
        """Return the value of ``name``, or ``default`` when absent."""
        for k, v in self:
            if k == name:
                return v
        return default

    @property
    def metric_name(self) -> str:
        """The ``__name__`` label, or ``""``."""
        return self.get(METRIC_NAME)

    def has(self, name: str) -> bool:
        """Whether ``name`` is present."""
        return any(k == name for k, _ in self)

    def without(self, names: Iterable[str]) -> Labels:
        """Return a copy without ``names``."""
        drop = set(names)
        return tuple.__new__(Labels, tuple(p for p in self if p[0] not in drop))

    def without_name(self) -> Labels:
        """Return a copy without ``__name__``."""
        if not self.has(METRIC_NAME):
            return self
        return self.without((METRIC_NAME,))

    def only(self, names: Iterable[str]) -> Labels:
        """Return a copy with only ``names``."""
        keep = set(names)
        return tuple.__new__(Labels, tuple(p for p in self if p[0] in keep))

    def set(self, name: str, value: str) -> Labels:
        """Return a copy with ``name`` set to ``value`` (``""`` removes it)."""
        items = dict(self)
        if value == "":
            items.pop(name, None)
        else:
            items[name] = value
        return tuple.__new__(Labels, tuple(sorted(items.items())))

    def to_dict(self) -> dict[str, str]:
        """Return a plain dict."""
        return dict(self)

    def __str__(self) -> str:
        """Prometheus notation: ``name{a="b"}``, or ``{a="b"}`` without a name."""
        name = self.metric_name
        rest = ", ".join(f"{k}={_quote(v)}" for k, v in self if k != METRIC_NAME)
        if name and not rest:
            return name
        return f"{name}{{{rest}}}"

    def __repr__(self) -> str:
        return f"Labels({self!s})"


def _quote(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


class MatchOp(StrEnum):
    """A label matcher's operator."""

    EQUAL = "="
    NOT_EQUAL = "!="
    REGEX = "=~"
    NOT_REGEX = "!~"


@lru_cache(maxsize=4096)
def _anchored(pattern: str) -> re.Pattern[str]:
    # Prometheus regexes are RE2, fully anchored, and "." matches a newline.
    return re.compile(f"(?:{pattern})", re.DOTALL)


@dataclass(frozen=True, slots=True)
class LabelMatcher:
    """``name op value``; a missing label matches as the empty string (Prometheus)."""

    name: str
    op: MatchOp
    value: str
    _regex: re.Pattern[str] | None = field(default=None, compare=False, hash=False, repr=False)

    def __post_init__(self) -> None:
        if self.op in (MatchOp.REGEX, MatchOp.NOT_REGEX):
            object.__setattr__(self, "_regex", _anchored(self.value))

    def matches(self, value: str) -> bool:
        """Whether a label value (``""`` when absent) satisfies the matcher."""
        if self.op is MatchOp.EQUAL:
            return value == self.value
        if self.op is MatchOp.NOT_EQUAL:
            return value != self.value
        regex = self._regex
        hit = regex is not None and regex.fullmatch(value) is not None
        return hit if self.op is MatchOp.REGEX else not hit

    def matches_empty(self) -> bool:
        """Whether the matcher matches a series that lacks the label."""
        return self.matches("")

    def __str__(self) -> str:
        return f"{self.name}{self.op.value}{_quote(self.value)}"
