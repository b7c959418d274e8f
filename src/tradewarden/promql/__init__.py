"""The PromQL evaluator, on top of the promql-parser package."""

from tradewarden.promql._ast import metric_names, parse, series_matchers
from tradewarden.promql._engine import Engine, QueryResult
from tradewarden.promql._errors import QueryError
from tradewarden.promql._values import (
    Annotations,
    Call,
    Matrix,
    RangeWindow,
    Sample,
    Scalar,
    Series,
    String,
    Value,
    Vector,
)

__all__ = [
    "Annotations",
    "Call",
    "Engine",
    "Matrix",
    "QueryError",
    "QueryResult",
    "RangeWindow",
    "Sample",
    "Scalar",
    "Series",
    "String",
    "Value",
    "Vector",
    "metric_names",
    "parse",
    "series_matchers",
]
