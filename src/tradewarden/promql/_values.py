"""The values a PromQL expression evaluates to, and the contract between the evaluator
and the function implementations.

Name removal is *delayed*, as in Prometheus 3 (the semantics of its test files): an
operator or function that drops ``__name__`` sets ``drop_name=True`` on the sample and
keeps the label; the evaluator removes names at the end of the query (and a label
function that writes ``__name__`` clears the flag).

Times are integer milliseconds since the epoch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from tradewarden.series import Labels

__all__ = [
    "Annotations",
    "Call",
    "FunctionImpl",
    "Matrix",
    "RangeWindow",
    "Sample",
    "Scalar",
    "Series",
    "String",
    "Value",
    "Vector",
]


@dataclass(slots=True)
class Sample:
    """One element of an instant vector."""

    labels: Labels
    t: int
    v: float
    drop_name: bool = False


class Vector(list[Sample]):
    """An instant vector."""


@dataclass(slots=True)
class Series:
    """One series of a range vector or of a range query's result, oldest point first.

    ``ts`` and ``vs`` are lists or tuples (a range selector's series are tuples: a tuple
    of numbers is one object the garbage collector soon stops tracking); read them, never
    modify them.
    """

    labels: Labels
    ts: Sequence[int]
    vs: Sequence[float]
    drop_name: bool = False


class Matrix(list[Series]):
    """A range vector, or the result of a range query."""


@dataclass(frozen=True, slots=True)
class Scalar:
    """A scalar at a time."""

    t: int
    v: float


@dataclass(frozen=True, slots=True)
class String:
    """A string literal's value."""

    t: int
    v: str


@dataclass(frozen=True, slots=True)
class RangeWindow:
    """A matrix argument of a function at one evaluation step.

    ``series`` hold the samples in the left-open window ``(start_ms, end_ms]`` (Prometheus
    3), stale markers removed; series with no sample there are left out. ``start_ms`` and
    ``end_ms`` already include the selector's offset and ``@``; ``range_ms`` is the
    selector's range (``rate`` extrapolates to the window's edges).
    """

    series: Matrix
    start_ms: int
    end_ms: int
    range_ms: int


Value: TypeAlias = Vector | Matrix | Scalar | String


@dataclass(slots=True)
class Annotations:
    """Warnings and infos a query collects (Prometheus's ``annotations`` package); the
    message texts follow Prometheus's, since the test files match some of them."""

    warnings: list[str] = field(default_factory=list)
    infos: list[str] = field(default_factory=list)

    def warn(self, message: str) -> None:
        """Add a warning once."""
        if message not in self.warnings:
            self.warnings.append(message)

    def info(self, message: str) -> None:
        """Add an info once."""
        if message not in self.infos:
            self.infos.append(message)


@dataclass(frozen=True, slots=True)
class Call:
    """One call of a function at one evaluation step.

    ``args`` are the evaluated arguments: a ``Vector``, ``Scalar`` or ``String`` for an
    instant argument, a ``RangeWindow`` for a matrix argument (a matrix selector or a
    subquery). ``exprs`` are the argument expressions (``absent`` reads its selector's
    matchers from them). For ``timestamp(<vector selector>)`` the evaluator passes samples
    whose ``t`` is the sample's own time; everywhere else ``t`` is the step's time.
    ``query_start_ms``, ``query_end_ms`` and ``query_step_ms`` describe the query
    (``start()``, ``end()``, ``step()``, ``range()``); an instant query leaves them unset
    (start and end are then ``t``, the step 0). ``arg_positions`` are where each argument
    starts in the query text, as ``line:column`` (Prometheus ends an annotation with the
    position of the argument it is about); empty when unknown. ``keep``, when set, is a
    hint: the caller compares the result with a number next and drops every sample whose
    value ``keep`` rejects, so a function may leave those samples out (it must still add
    the annotations they would have caused); ignoring it is always correct.
    """

    name: str
    t: int
    args: Sequence[Value | RangeWindow]
    exprs: Sequence[Any]
    annotations: Annotations
    query_start_ms: int | None = None
    query_end_ms: int | None = None
    query_step_ms: int = 0
    arg_positions: Sequence[str] = ()
    keep: Callable[[float], bool] | None = None


# A function returns a Vector (instant-vector functions), a Scalar (``scalar``, ``time``,
# ``pi``, ...) or raises ``tradewarden.promql.QueryError`` with Prometheus's message.
FunctionImpl: TypeAlias = Callable[[Call], "Vector | Scalar"]
