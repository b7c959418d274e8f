"""Runbooks over the API: read them (viewer), render them as Markdown, and run their
automated steps now for a set of labels (operator, audited).

``GET /v1/runbooks`` lists id, title, summary and what alerts they apply to;
``GET /v1/runbooks/{id}`` is the whole runbook (``?format=markdown`` or
``/v1/runbooks/{id}.md`` its Markdown page); ``POST /v1/runbooks/{id}/run`` runs the
read-only steps with the labels and annotations given and answers every step's result.
The run is audited as ``runbook.run`` (who, when, why, the labels, each step's status).
Remediation actions are not run here.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import PlainTextResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from tradewarden.api._deps import Operator, RuntimeDep, Viewer, audit_context
from tradewarden.clock import utc_datetime
from tradewarden.runbooks import Runbook, RunbookRunner, StepResult
from tradewarden.runbooks._markdown import runbook_markdown
from tradewarden.runtime import Runtime
from tradewarden.store import AuditRepository

__all__ = ["router"]

router = APIRouter(prefix="/v1/runbooks", tags=["runbooks"])

_MARKDOWN = "text/markdown; charset=utf-8"
_LabelName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")]
_LabelValue = Annotated[str, Field(max_length=2_000)]
_Pairs = Annotated[dict[_LabelName, _LabelValue], Field(max_length=100)]


class AppliesToOut(BaseModel):
    alertnames: list[str]
    matchers: list[str]


class RunbookOut(BaseModel):
    id: str
    title: str
    summary: str
    applies_to: AppliesToOut
    source: str = Field(description="bundled:<file> or the path of the user's file.")


class RunBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    labels: _Pairs = Field(default_factory=dict, description="The alert's labels.")
    annotations: _Pairs = Field(default_factory=dict, description="The alert's annotations.")
    reason: str = Field(min_length=1, max_length=500, description="Why: in the audit log.")


class StepResultOut(BaseModel):
    step_id: str
    title: str
    kind: str
    status: Literal["ok", "failed", "timeout", "skipped", "error"]
    output: Any
    error: str | None
    started_at: str
    duration_ms: float


class RunOut(BaseModel):
    runbook: str
    results: list[StepResultOut]


def _summary(runbook: Runbook) -> RunbookOut:
    return RunbookOut(
        id=runbook.id,
        title=runbook.title,
        summary=runbook.summary,
        applies_to=AppliesToOut(
            alertnames=list(runbook.applies_to.alertnames),
            matchers=list(runbook.applies_to.matchers),
        ),
        source=runbook.source,
    )


def _markdown(runbook: Runbook) -> Response:
    return PlainTextResponse(runbook_markdown(runbook), media_type=_MARKDOWN)


@router.get("", response_model=list[RunbookOut], summary="List runbooks")
async def list_runbooks(runtime: RuntimeDep, _viewer: Viewer) -> list[RunbookOut]:
    """Return every loaded runbook (bundled and the user's), by id."""
    return [_summary(runbook) for runbook in runtime.runbooks.all()]


# Before /{runbook_id}: a path parameter also matches "x.md".
@router.get(
    "/{runbook_id}.md",
    response_class=PlainTextResponse,
    summary="One runbook as Markdown",
    responses={200: {"content": {"text/markdown": {}}}},
)
async def get_runbook_markdown(runbook_id: str, runtime: RuntimeDep, _viewer: Viewer) -> Response:
    """Return the runbook's Markdown page."""
    return _markdown(runtime.runbooks.get(runbook_id))


@router.get(
    "/{runbook_id}",
    summary="One runbook",
    responses={200: {"content": {"text/markdown": {}}}},
)
async def get_runbook(
    runbook_id: str,
    runtime: RuntimeDep,
    _viewer: Viewer,
    format: Annotated[  # noqa: A002 - the query parameter's public name
        Literal["json", "markdown"], Query(description="markdown: the rendered page.")
    ] = "json",
) -> Any:
    """Return the whole runbook: prose, automated steps and actions (or its Markdown)."""
    runbook = runtime.runbooks.get(runbook_id)
    if format == "markdown":
        return _markdown(runbook)
    return {**runbook.model_dump(mode="json"), "source": runbook.source}


def _runner(runtime: Runtime) -> RunbookRunner:
    runner = runtime.runbook_runner
    if runner is None:
        raise HTTPException(503, "runbooks do not run in this process")
    return runner


async def _audit(
    runtime: Runtime,
    request: Request,
    runbook: Runbook,
    body: RunBody,
    *,
    results: list[StepResult] | None,
    error: str | None = None,
) -> None:
    details: dict[str, Any] = {"labels": body.labels}
    if results is not None:
        details["steps"] = {r.step_id: r.status for r in results}
    if error is not None:
        details["error"] = error
    record = dataclasses.replace(
        audit_context(request, body.reason),
        action="runbook.run",
        outcome="error" if error is not None else "success",
        target=runbook.id,
        details=details,
    )
    async with runtime.database.session() as session:
        await AuditRepository(session).append(record, now=utc_datetime(runtime.clock.now()))


@router.post("/{runbook_id}/run", response_model=RunOut, summary="Run a runbook's steps now")
async def run_runbook(
    runbook_id: str, body: RunBody, request: Request, runtime: RuntimeDep, _operator: Operator
) -> RunOut:
    """Run the runbook's read-only automated steps for ``labels`` and answer each result.

    A step whose label or connection is missing is ``skipped``; a step cut at its timeout
    is ``timeout``; the run never runs a remediation action.
    """
    runbook = runtime.runbooks.get(runbook_id)
    runner = _runner(runtime)
    try:
        results = await runner.run(runbook, body.labels, body.annotations)
    except Exception as exc:
        await _audit(runtime, request, runbook, body, results=None, error=type(exc).__name__)
        raise
    await _audit(runtime, request, runbook, body, results=results)
    return RunOut(
        runbook=runbook.id,
        results=[StepResultOut.model_validate(r.to_dict()) for r in results],
    )
