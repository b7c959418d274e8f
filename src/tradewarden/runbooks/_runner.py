"""Run a runbook's automated steps for an alert: one after another, each cut at its
timeout, the whole run cut at ``runbooks.run_timeout``; never raising for a step.

Each step's :class:`StepResult` goes to ``on_step`` as soon as it ends (the incident's
timeline writes it), so a slow step does not hold back what the earlier ones found.
Remediation actions are not steps: the runner never runs them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import httpx

from tradewarden.clock import Clock, SystemClock
from tradewarden.probes import MonitorSpec
from tradewarden.runbooks._config import RunbooksConfig
from tradewarden.runbooks._model import Runbook, Step
from tradewarden.runbooks._result import StepResult, StepStatus, json_output
from tradewarden.runbooks._steps import KIND_RUNNERS, Outcome, StepContext, StepSkipped
from tradewarden.runbooks._templates import MissingValue
from tradewarden.telemetry import redact_text

if TYPE_CHECKING:
    from tradewarden.probes import Scheduler
    from tradewarden.promql import Engine

__all__ = ["OnStep", "RunbookRunner"]

logger = logging.getLogger("tradewarden.runbooks")
OnStep = Callable[[StepResult], Awaitable[None]]


class RunbookRunner:
    """Run automated steps with the warden's parts: its series engine, HTTP client,
    probe scheduler and configured monitors (whose connections steps may reuse)."""

    def __init__(
        self,
        config: RunbooksConfig,
        *,
        clock: Clock | None = None,
        http: httpx.AsyncClient | None = None,
        engine: Engine | None = None,
        scheduler: Scheduler | None = None,
        monitors: Iterable[MonitorSpec] | Callable[[], Iterable[MonitorSpec]] = (),
        targets: Iterable[str] | Callable[[], Iterable[str]] = (),
    ) -> None:
        self._config = config
        self._clock = clock or SystemClock()
        self._http = http
        self._engine = engine
        self._scheduler = scheduler
        self._monitors = monitors if callable(monitors) else tuple(monitors)
        self._targets = targets if callable(targets) else tuple(targets)

    def _monitor_map(self) -> dict[str, MonitorSpec]:
        specs = self._monitors() if callable(self._monitors) else self._monitors
        return {spec.name: spec for spec in specs}

    async def run(
        self,
        runbook: Runbook,
        labels: Mapping[str, str],
        annotations: Mapping[str, str],
        *,
        on_step: OnStep | None = None,
    ) -> list[StepResult]:
        """Run every automated step of ``runbook``; return their results in order."""
        results: list[StepResult] = []
        monitors = self._monitor_map()
        deadline = time.monotonic() + self._config.run_timeout
        for step in runbook.automated:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                result = self._result(
                    step,
                    "skipped",
                    None,
                    f"the run timeout ({self._config.run_timeout:g} s) was reached",
                    self._started(),
                    0.0,
                )
            else:
                result = await self.run_step(step, labels, annotations, remaining, monitors)
            results.append(result)
            if on_step is not None:
                try:
                    await on_step(result)
                except Exception:
                    logger.exception("on_step failed for %s/%s", runbook.id, step.id)
        return results

    async def run_step(
        self,
        step: Step,
        labels: Mapping[str, str],
        annotations: Mapping[str, str],
        budget_s: float | None = None,
        monitors: Mapping[str, MonitorSpec] | None = None,
    ) -> StepResult:
        """Run one step within its timeout (and ``budget_s``); never raise for it."""
        own = step.timeout if step.timeout is not None else self._config.step_timeout
        timeout_s = own if budget_s is None else min(own, budget_s)
        context = StepContext(
            config=self._config,
            clock=self._clock,
            timeout_s=timeout_s,
            http=self._http,
            engine=self._engine,
            scheduler=self._scheduler,
            monitors=self._monitor_map() if monitors is None else monitors,
            targets=frozenset(self._targets() if callable(self._targets) else self._targets),
        )
        started_at = self._started()
        began = time.perf_counter()

        def finish(status: StepStatus, output: object, error: str | None) -> StepResult:
            elapsed_ms = (time.perf_counter() - began) * 1000
            return self._result(step, status, output, error, started_at, elapsed_ms)

        runner = KIND_RUNNERS.get(step.kind)
        if runner is None:  # only a step built around the model can get here
            return finish("error", None, f"kind {step.kind!r} is not a runbook step kind")
        try:
            async with asyncio.timeout(timeout_s):
                outcome: Outcome = await runner(step, context, labels, annotations)
        except TimeoutError as exc:
            cut = "the run timeout" if timeout_s < own else "its timeout"
            detail = f" ({exc})" if str(exc) else ""
            return finish("timeout", None, f"cut at {cut} of {timeout_s:g} s{detail}")
        except (MissingValue, StepSkipped) as exc:
            return finish("skipped", None, str(exc))
        except Exception as exc:  # noqa: BLE001 - a broken step is a result, never a crash
            return finish("error", None, f"{type(exc).__name__}: {exc}")
        return finish(outcome.status, outcome.output, outcome.error)

    def _started(self) -> datetime:
        return datetime.fromtimestamp(self._clock.now(), UTC)

    @staticmethod
    def _result(  # noqa: PLR0917 - private, one call shape
        step: Step,
        status: StepStatus,
        output: object,
        error: str | None,
        started_at: datetime,
        duration_ms: float,
    ) -> StepResult:
        return StepResult(
            step_id=step.id,
            title=step.title,
            kind=step.kind,
            status=status,
            output=json_output(output),
            error=redact_text(error) if error else None,
            started_at=started_at,
            duration_ms=round(duration_ms, 3),
        )
