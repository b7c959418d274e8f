"""Queue actions an operator takes by hand: pause, resume, retry failed jobs, clean old ones.

``POST /v1/queues/{monitor}/{queue}/{pause|resume|retry-failed|clean}`` on a queue a
``queue`` monitor watches. Every attempt that reaches a queue is audited (``queue.pause``,
..., target ``monitor/queue``, the reason, the counts), failures with the outcome
``error``; a caller below operator is refused and audited as ``denied`` by the error
handlers. What each backend can do, and why not, is in ``probes/kinds/_queue_ops.py``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field

from tradewarden.api._deps import Operator, RuntimeDep, audit_context
from tradewarden.clock import utc_datetime
from tradewarden.probes.kinds import QueueSpec
from tradewarden.probes.kinds._queue_ops import (
    QueueAction,
    QueueActionError,
    QueueActionResult,
    QueueBrokerError,
    clean_queue,
    pause_queue,
    resume_queue,
    retry_failed,
)
from tradewarden.runtime import Runtime
from tradewarden.store import AuditRepository

router = APIRouter(prefix="/v1/queues", tags=["queues"])

_Reason = Annotated[
    str, Field(min_length=1, max_length=500, description="Why: written to the audit log.")
]


class ActionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: _Reason


class PauseBody(ActionBody):
    all_workers: bool = Field(
        default=False,
        description=(
            "RQ only: RQ cannot pause one queue; true suspends (or resumes) every RQ worker"
            " of the monitor's Redis database, whatever queue it serves."
        ),
    )


class CleanBody(ActionBody):
    state: Literal["completed", "failed"]
    older_than_s: float = Field(gt=0, description="Remove jobs that finished before this.")
    limit: int | None = Field(default=None, ge=1, le=1_000_000, description="At most this many.")


class ActionOut(BaseModel):
    monitor: str
    queue: str
    backend: str
    action: str
    paused: bool | None = Field(description="Whether the queue is paused after the action.")
    retried: int | None
    removed: int | None
    details: dict[str, Any]


_MonitorName = Annotated[str, Path(max_length=200)]
_QueueName = Annotated[str, Path(max_length=200)]


def _queue_spec(runtime: Runtime, monitor: str, queue: str) -> QueueSpec:
    if runtime.scheduler is None:
        raise HTTPException(503, "monitors do not run in this process")
    status = runtime.scheduler.get(monitor)
    if status is None:
        raise HTTPException(404, f"monitor {monitor!r} does not exist")
    spec = status.spec
    if not isinstance(spec, QueueSpec):
        raise HTTPException(404, f"monitor {monitor!r} is a {spec.kind} monitor, not a queue one")
    if queue not in spec.queues:
        raise HTTPException(
            404,
            f"monitor {monitor!r} watches no queue {queue!r} (it watches {', '.join(spec.queues)})",
        )
    return spec


async def _audit(
    runtime: Runtime,
    request: Request,
    action: QueueAction,
    target: str,
    reason: str,
    *,
    details: dict[str, Any],
    failed: bool,
) -> None:
    record = dataclasses.replace(
        audit_context(request, reason),
        action=f"queue.{action}",
        outcome="error" if failed else "success",
        target=target,
        details=details,
    )
    async with runtime.database.session() as session:
        await AuditRepository(session).append(record, now=utc_datetime(runtime.clock.now()))


async def _act(
    runtime: Runtime,
    request: Request,
    spec: QueueSpec,
    queue: str,
    *,
    action: QueueAction,
    reason: str,
    asked: dict[str, Any],
    run: Callable[[], Awaitable[QueueActionResult]],
) -> ActionOut:
    """Run the action and audit it, succeeded or not; ``asked`` is what the body asked."""
    target = f"{spec.name}/{queue}"
    try:
        result = await run()
    except QueueActionError as exc:
        details = {**asked, "backend": spec.backend, "error": str(exc)}
        await _audit(runtime, request, action, target, reason, details=details, failed=True)
        raise HTTPException(503 if isinstance(exc, QueueBrokerError) else 409, str(exc)) from None
    out = _out(spec, result)
    counts = out.model_dump(include={"backend", "paused", "retried", "removed"})
    details = {**asked, **counts, **result.details}
    await _audit(runtime, request, action, target, reason, details=details, failed=False)
    return out


def _out(spec: QueueSpec, result: QueueActionResult) -> ActionOut:
    return ActionOut(
        monitor=spec.name,
        queue=result.queue,
        backend=result.backend,
        action=result.action,
        paused=result.paused,
        retried=result.retried,
        removed=result.removed,
        details=dict(result.details),
    )


async def _pause_or_resume(
    runtime: Runtime,
    request: Request,
    monitor: str,
    queue: str,
    body: PauseBody,
    *,
    action: Literal["pause", "resume"],
) -> ActionOut:
    spec = _queue_spec(runtime, monitor, queue)
    if body.all_workers and spec.backend != "rq":
        raise RequestValidationError(
            [
                {
                    "loc": ("body", "all_workers"),
                    "msg": f"all_workers is for backend rq only (this monitor is {spec.backend})",
                    "type": "value_error",
                }
            ]
        )
    operation = pause_queue if action == "pause" else resume_queue
    return await _act(
        runtime,
        request,
        spec,
        queue,
        action=action,
        reason=body.reason,
        asked={"all_workers": body.all_workers},
        run=lambda: operation(spec, queue, all_workers=body.all_workers),
    )


@router.post("/{monitor}/{queue}/pause", response_model=ActionOut, summary="Pause a queue")
async def pause(
    monitor: _MonitorName,
    queue: _QueueName,
    body: PauseBody,
    request: Request,
    runtime: RuntimeDep,
    _operator: Operator,
) -> ActionOut:
    """Stop workers taking jobs from the queue; running jobs finish (audited).

    BullMQ only; RQ with ``all_workers`` (every worker of the Redis database); never Celery.
    """
    return await _pause_or_resume(runtime, request, monitor, queue, body, action="pause")


@router.post("/{monitor}/{queue}/resume", response_model=ActionOut, summary="Resume a queue")
async def resume(
    monitor: _MonitorName,
    queue: _QueueName,
    body: PauseBody,
    request: Request,
    runtime: RuntimeDep,
    _operator: Operator,
) -> ActionOut:
    """Let workers take jobs from the queue again (audited)."""
    return await _pause_or_resume(runtime, request, monitor, queue, body, action="resume")


@router.post(
    "/{monitor}/{queue}/retry-failed", response_model=ActionOut, summary="Retry failed jobs"
)
async def retry(
    monitor: _MonitorName,
    queue: _QueueName,
    body: ActionBody,
    request: Request,
    runtime: RuntimeDep,
    _operator: Operator,
) -> ActionOut:
    """Move every failed job of the queue back to waiting; return how many (audited)."""
    spec = _queue_spec(runtime, monitor, queue)
    return await _act(
        runtime,
        request,
        spec,
        queue,
        action="retry-failed",
        reason=body.reason,
        asked={},
        run=lambda: retry_failed(spec, queue),
    )


@router.post("/{monitor}/{queue}/clean", response_model=ActionOut, summary="Clean old jobs")
async def clean(
    monitor: _MonitorName,
    queue: _QueueName,
    body: CleanBody,
    request: Request,
    runtime: RuntimeDep,
    _operator: Operator,
) -> ActionOut:
    """Remove the completed or failed jobs that finished more than ``older_than_s`` ago,
    at most ``limit``; return how many (audited)."""
    spec = _queue_spec(runtime, monitor, queue)
    return await _act(
        runtime,
        request,
        spec,
        queue,
        action="clean",
        reason=body.reason,
        asked=body.model_dump(include={"state", "older_than_s", "limit"}),
        run=lambda: clean_queue(
            spec, queue, state=body.state, older_than_s=body.older_than_s, limit=body.limit
        ),
    )
