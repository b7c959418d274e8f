"""``promql``: an instant query over the warden's own series store."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from tradewarden.promql import Matrix, QueryError, Scalar, String, Value, Vector
from tradewarden.runbooks._model import PromqlStep
from tradewarden.runbooks._steps._base import Outcome, StepContext, StepSkipped
from tradewarden.runbooks._templates import render

__all__ = ["run", "value_json"]

# More series than anyone reads on a timeline; the count says how many there were.
_MAX_SERIES = 100


def _number(value: float) -> float | str:
    return value if math.isfinite(value) else str(value)


def value_json(value: Value) -> dict[str, Any]:
    """Return a query value as Prometheus's API writes it (at most 100 series)."""
    if isinstance(value, Vector):
        result: list[Any] = [
            {"metric": s.labels.to_dict(), "value": [s.t / 1000, _number(s.v)]} for s in value
        ]
        kind = "vector"
    elif isinstance(value, Matrix):
        result = [
            {
                "metric": s.labels.to_dict(),
                "values": [[t / 1000, _number(v)] for t, v in zip(s.ts, s.vs, strict=True)],
            }
            for s in value
        ]
        kind = "matrix"
    elif isinstance(value, Scalar):
        return {"resultType": "scalar", "result": [value.t / 1000, _number(value.v)]}
    elif isinstance(value, String):
        return {"resultType": "string", "result": [value.t / 1000, value.v]}
    else:
        raise TypeError(f"unexpected query value {type(value).__name__}")
    return {"resultType": kind, "series": len(result), "result": result[:_MAX_SERIES]}


async def run(
    step: PromqlStep, ctx: StepContext, labels: Mapping[str, str], annotations: Mapping[str, str]
) -> Outcome:
    """Evaluate the query now; a query the engine refuses is ``failed``."""
    if ctx.engine is None:
        raise StepSkipped("no series store to query")
    query = render(step.query, labels, annotations)
    try:
        result = ctx.engine.instant(query, int(ctx.clock.now() * 1000))
    except QueryError as exc:
        return Outcome("failed", {"query": query}, f"query error: {exc}")
    output = {"query": query, **value_json(result.value)}
    if result.annotations.warnings:
        output["warnings"] = list(result.annotations.warnings)
    return Outcome("ok", output)
