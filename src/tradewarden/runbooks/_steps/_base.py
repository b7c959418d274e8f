"""What every step kind is given and returns.

A kind is one module with ``async def run(step, ctx, labels, annotations) -> Outcome``.
It returns ``ok`` or ``failed`` for a check that ran, raises :class:`StepSkipped` (or the
templates' ``MissingValue``) when it cannot apply, and may raise anything else: the runner
turns that into an ``error`` result and cuts the step at its timeout.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import httpx

from tradewarden.clock import Clock
from tradewarden.probes import MonitorSpec
from tradewarden.runbooks._config import RunbooksConfig

if TYPE_CHECKING:
    from tradewarden.probes import Scheduler
    from tradewarden.promql import Engine

__all__ = ["Outcome", "StepContext", "StepSkipped"]


class StepSkipped(Exception):  # noqa: N818 - reads as what happened to the step
    """The step does not apply here (its connection or monitor is not configured)."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """A step that ran: ``ok`` or ``failed``, its output and what went wrong."""

    status: Literal["ok", "failed"]
    output: Any
    error: str | None = None


@dataclass(frozen=True)
class StepContext:
    """The warden's parts a step may read, and the step's time budget."""

    config: RunbooksConfig
    clock: Clock
    timeout_s: float
    http: httpx.AsyncClient | None = None
    engine: Engine | None = None
    scheduler: Scheduler | None = None
    monitors: Mapping[str, MonitorSpec] = field(default_factory=dict)
    # ``host:port`` of the scrape targets (an alert's ``instance``), for the http step.
    targets: frozenset[str] = frozenset()
