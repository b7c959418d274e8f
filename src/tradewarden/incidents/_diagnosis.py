"""Automated diagnosis: once an incident's opening commits, its runbook runs in the
background and each step's result is appended to the timeline (``runbook_step``).

``Diagnosis`` is the port (``tradewarden.runbooks`` provides the real one, see
``RunbookDiagnosis``); every step result is written in a short transaction of its own,
so a slow or failing run never holds the opening or the dispatcher's flush.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from sqlalchemy import event
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from tradewarden.clock import Clock, utc_datetime
from tradewarden.errors import TradewardenError
from tradewarden.incidents._model import Kind
from tradewarden.store import Database, IncidentRepository
from tradewarden.telemetry import get_logger

__all__ = [
    "Diagnosis",
    "DiagnosisRunner",
    "RunbookDiagnosis",
    "StepCallback",
    "StepOutcome",
]

_log = get_logger("tradewarden.incidents")
DIAGNOSIS_ACTOR = "runbook"


class StepOutcome(Protocol):
    """A finished step (``tradewarden.runbooks.StepResult``)."""

    def to_dict(self) -> dict[str, Any]:
        """Return the step's result as JSON-ready values."""
        ...


StepCallback = Callable[[StepOutcome], Awaitable[None]]


class Diagnosis(Protocol):
    """Run the diagnosis of an alert: its runbook's automated steps."""

    async def diagnose(
        self, labels: Mapping[str, str], annotations: Mapping[str, str], on_step: StepCallback
    ) -> str | None:
        """Run the runbook the alert finds, calling ``on_step`` as each step ends; return
        the runbook's id, or None when no runbook applies."""
        ...


class _Catalog(Protocol):
    def for_alert(self, labels: Mapping[str, str], annotations: Mapping[str, str]) -> Any: ...


class _Runner(Protocol):
    async def run(
        self,
        runbook: Any,
        labels: Mapping[str, str],
        annotations: Mapping[str, str],
        *,
        on_step: StepCallback | None = None,
    ) -> Any: ...


class _Presser(Protocol):
    async def automatic(
        self,
        incident_id: int,
        runbook: Any,
        action: Any,
        labels: Mapping[str, str],
        annotations: Mapping[str, str],
    ) -> None: ...


class RunbookDiagnosis:
    """``Diagnosis`` over ``tradewarden.runbooks``' catalog and runner.

    With a ``presser``, the runbook's actions marked ``automatic`` whose name ``allowed``
    (``runbooks.allow_automatic``) lists run after the automated steps
    (``tradewarden.runbooks._actions.ActionPresser``: audited as ``system:runbook:<id>``,
    on the timeline); every other action stays a button.
    """

    def __init__(
        self,
        catalog: _Catalog,
        runner: _Runner,
        *,
        allowed: tuple[str, ...] = (),
        presser: _Presser | None = None,
    ) -> None:
        self.catalog = catalog
        self.runner = runner
        self.allowed = allowed
        self.presser = presser

    async def diagnose(
        self,
        labels: Mapping[str, str],
        annotations: Mapping[str, str],
        on_step: StepCallback,
        *,
        incident_id: int | None = None,
    ) -> str | None:
        """Run the runbook of the alert, if it has one, then its allowed automatic actions."""
        runbook = self.catalog.for_alert(labels, annotations)
        if runbook is None:
            return None
        await self.runner.run(runbook, labels, annotations, on_step=on_step)
        if self.presser is not None and incident_id is not None:
            for action in runbook.automatic_actions(self.allowed):
                try:
                    await self.presser.automatic(incident_id, runbook, action, labels, annotations)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # noqa: BLE001 - audited as error; others still run
                    _log.warning(
                        "automatic runbook action failed",
                        incident=incident_id,
                        action=action.id,
                        error=repr(exc)[:200],
                    )
        return str(runbook.id)


class DiagnosisRunner:
    """Start diagnoses after their incident's opening commits; write the steps."""

    def __init__(
        self, database: Database, clock: Clock, diagnosis: Diagnosis | None, *, limit: int = 4
    ) -> None:
        self.database = database
        self.clock = clock
        self.diagnosis = diagnosis
        self._tasks: set[asyncio.Task[None]] = set()
        # At most ``limit`` runbooks run at once; the others wait in opening order.
        self._slots = asyncio.Semaphore(limit)

    def after_commit(
        self,
        session: AsyncSession,
        incident_id: int,
        labels: Mapping[str, str],
        annotations: Mapping[str, str],
    ) -> None:
        """Diagnose once ``session`` commits (a rolled-back opening runs nothing)."""
        if self.diagnosis is None:
            return
        loop = asyncio.get_running_loop()
        labels, annotations = dict(labels), dict(annotations)

        def _committed(_session: Any) -> None:
            # Called inside the commit (same thread, the loop running): only schedule.
            task = loop.create_task(
                self._run(incident_id, labels, annotations),
                name=f"incident-diagnosis-{incident_id}",
            )
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

        event.listen(session.sync_session, "after_commit", _committed, once=True)

    async def _run(
        self, incident_id: int, labels: dict[str, str], annotations: dict[str, str]
    ) -> None:
        async with self._slots:
            await self._diagnose(incident_id, labels, annotations)

    async def _diagnose(
        self, incident_id: int, labels: dict[str, str], annotations: dict[str, str]
    ) -> None:
        diagnosis = self.diagnosis
        if diagnosis is None:  # pragma: no cover - checked before scheduling
            return
        steps = 0

        async def on_step(result: StepOutcome) -> None:
            nonlocal steps
            steps += 1
            data = result.to_dict()
            text = f"{data.get('title') or data.get('step_id')}: {data.get('status')}"
            await self._append(incident_id, Kind.RUNBOOK_STEP, text, data)

        try:
            if isinstance(diagnosis, RunbookDiagnosis):  # it presses allowed automatic actions
                runbook = await diagnosis.diagnose(
                    labels, annotations, on_step, incident_id=incident_id
                )
            else:
                runbook = await diagnosis.diagnose(labels, annotations, on_step)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - a broken runbook must not stop the warden
            _log.warning("incident diagnosis failed", incident=incident_id, error=repr(exc)[:200])
            with contextlib.suppress(SQLAlchemyError, OSError, TradewardenError):
                await self._append(
                    incident_id, Kind.NOTE, f"diagnosis failed: {type(exc).__name__}", {}
                )
            return
        if runbook is not None:
            await self._append(
                incident_id,
                Kind.NOTE,
                f"diagnosis by runbook {runbook} done: {steps} step(s) ran",
                {"runbook": runbook, "steps": steps},
            )

    async def _append(self, incident_id: int, kind: Kind, text: str, data: dict[str, Any]) -> None:
        async with self.database.session() as session:
            await IncidentRepository(session).append(
                incident_id,
                at=utc_datetime(self.clock.now()),
                kind=kind.value,
                actor=DIAGNOSIS_ACTOR,
                text=text[:2000],
                data=data,
            )

    async def wait(self) -> None:
        """Wait for the diagnoses running now to end."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        """Cancel the diagnoses still running."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
