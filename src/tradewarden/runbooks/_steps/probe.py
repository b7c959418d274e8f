"""``probe``: check a configured monitor now (the scheduler's ``run_now``, so the result
counts as one of its checks), or run an inline probe spec once."""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from tradewarden.probes import ProbeContext, ProbeResult
from tradewarden.probes._scheduler import close_probe
from tradewarden.probes._spec import MonitorSpec
from tradewarden.runbooks._model import ProbeStep
from tradewarden.runbooks._steps._base import Outcome, StepContext, StepSkipped
from tradewarden.runbooks._templates import render
from tradewarden.telemetry import redact_text

__all__ = ["run"]


async def _monitor(name: str, ctx: StepContext) -> Outcome:
    if ctx.scheduler is None or ctx.scheduler.get(name) is None:
        raise StepSkipped(f"monitor {name} is not configured")
    record = await ctx.scheduler.run_now(name)
    output = {
        "monitor": name,
        "state": record.state,
        "success": record.success,
        "degraded": record.degraded,
        "error": record.error,
        "duration_s": record.duration_s,
    }
    if not record.success:
        return Outcome("failed", output, record.error or "the check failed")
    return Outcome("ok", output)


async def _inline(spec: MonitorSpec, ctx: StepContext) -> Outcome:
    probe = spec.build()
    timeout_s = min(spec.timeout_s, ctx.timeout_s)
    try:
        if ctx.http is not None:
            result = await probe.run(ProbeContext(ctx.clock, timeout_s, ctx.http))
        else:
            async with httpx.AsyncClient() as client:
                result = await probe.run(ProbeContext(ctx.clock, timeout_s, client))
    finally:
        await close_probe(probe)
    return _outcome(spec.kind, result)


def _outcome(kind: str, result: ProbeResult) -> Outcome:
    output = {
        "probe": kind,
        "success": result.success,
        "degraded": result.degraded,
        "error": redact_text(result.error) if result.error else None,
        "duration_s": result.duration_s,
        "samples": [
            {"name": s.name, "labels": dict(s.labels), "value": s.value} for s in result.samples
        ],
    }
    if not result.success:
        return Outcome("failed", output, output["error"] or "the check failed")  # type: ignore[arg-type]
    return Outcome("ok", output)


async def run(
    step: ProbeStep, ctx: StepContext, labels: Mapping[str, str], annotations: Mapping[str, str]
) -> Outcome:
    """Run the check; a DOWN result is ``failed`` with the probe's reason."""
    if step.monitor is not None:
        return await _monitor(render(step.monitor, labels, annotations), ctx)
    assert step.probe is not None  # noqa: S101 - the model requires monitor or probe
    return await _inline(step.probe, ctx)
