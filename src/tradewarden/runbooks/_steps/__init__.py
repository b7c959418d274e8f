"""The automated step kinds, one module each (``promql``, ``http``, ``sql``, ``redis``,
``probe``), all shaped like ``_base``: ``run(step, ctx, labels, annotations) -> Outcome``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from tradewarden.runbooks._steps import http, probe, promql, redis, sql
from tradewarden.runbooks._steps._base import Outcome, StepContext, StepSkipped

__all__ = ["KIND_RUNNERS", "Outcome", "StepContext", "StepSkipped"]

KindRunner = Callable[[Any, StepContext, Mapping[str, str], Mapping[str, str]], Awaitable[Outcome]]

# A new kind: its module here, its model in _model.py (STEP_KINDS and the union).
KIND_RUNNERS: dict[str, KindRunner] = {
    "promql": promql.run,
    "http": http.run,
    "sql": sql.run,
    "redis": redis.run,
    "probe": probe.run,
}
