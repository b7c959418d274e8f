"""The rules' view of PromQL: parse an expression, name the metrics it reads, and run an
instant query returning samples.

``tradewarden.promql`` provides ``parse``, ``metric_names`` and ``Engine``; until a
function exists there, the fallback here (promql-parser directly) stands in.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import promql_parser

from tradewarden.promql import Scalar, Vector
from tradewarden.series import LabelMatcher, Labels

__all__ = [
    "InstantQuery",
    "QueryEngine",
    "engine_query",
    "metric_names",
    "parse_expr",
    "series_matchers",
]

# Evaluate an expression at a time (ms) to [(labels, value)], raising with the message.
InstantQuery = Callable[[Any, int], Sequence[tuple[Labels, float]]]


class QueryEngine(Protocol):
    """The part of ``tradewarden.promql.Engine`` the rules use."""

    def instant(self, query: Any, t_ms: int) -> Any:
        """Evaluate an instant query."""
        ...


def _promql(name: str) -> Any:
    module = importlib.import_module("tradewarden.promql")
    return getattr(module, name, None)


def parse_expr(text: str) -> Any:
    """Parse PromQL; raise ValueError with the parser's message."""
    parse = _promql("parse")
    try:
        if parse is not None:
            return parse(text)
        return promql_parser.parse(text)
    except Exception as exc:  # noqa: BLE001 - QueryError or the parser's ValueError: one message
        raise ValueError(str(exc)) from None


def metric_names(expr: Any) -> frozenset[str] | None:
    """The metric names ``expr`` selects; None when a selector has no fixed name."""
    found = _promql("metric_names")
    if found is not None:
        names: frozenset[str] | None = found(expr)
        return names
    collected: set[str] = set()
    unbounded = False

    def visit(node: Any) -> bool:
        nonlocal unbounded
        if isinstance(node, promql_parser.VectorSelector):
            name = node.name
            if not name:
                for matcher in node.matchers.matchers:
                    if matcher.name == "__name__" and matcher.op == promql_parser.MatchOp.Equal:
                        name = matcher.value
            if name:
                collected.add(name)
            else:
                unbounded = True
        return True

    promql_parser.walk(expr, visit, None)
    return None if unbounded else frozenset(collected)


def series_matchers(expr: Any) -> tuple[tuple[LabelMatcher, ...], ...] | None:
    """The matcher sets ``expr`` selects with; None when unknown (then any fresh sample of
    a metric it reads may change it)."""
    found = _promql("series_matchers")
    if found is None:
        return None
    matchers: tuple[tuple[LabelMatcher, ...], ...] | None = found(expr)
    return matchers


def engine_query(engine: QueryEngine) -> InstantQuery:
    """Adapt an engine to the rules' query port: a vector, or a scalar as one sample
    without labels (as Prometheus's rule query does); anything else is an error."""

    def query(expr: Any, t_ms: int) -> list[tuple[Labels, float]]:
        value = engine.instant(expr, t_ms).value
        if isinstance(value, Vector):
            return [(sample.labels, float(sample.v)) for sample in value]
        if isinstance(value, Scalar):
            return [(Labels(), float(value.v))]
        raise ValueError("rule result is not a vector or scalar")

    return query
