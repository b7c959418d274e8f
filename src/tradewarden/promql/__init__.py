"""The PromQL evaluator, on top of the promql-parser package."""

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
    "Matrix",
    "QueryError",
    "RangeWindow",
    "Sample",
    "Scalar",
    "Series",
    "String",
    "Value",
    "Vector",
]
