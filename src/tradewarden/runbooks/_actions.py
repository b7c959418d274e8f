"""Pressing a runbook's remediation button: the action name -> the control call.

An ``Action`` (kill_switch.halt, kill_switch.reduce, breaker.open, queue.pause) runs
through the same calls as the control endpoints (``Control.trading``,
``Control.breakers.act``, ``probes.kinds._queue_ops.pause_queue``), behind the narrow
``Controls`` port. ``ActionPresser.press`` renders the params with the alert's values,
runs the call, and writes the audit row (``trading.halt``, ``breaker.open``,
``queue.pause``, with ``incident``, ``runbook`` and ``action`` in the details) and the
``control`` timeline entries in one transaction; a failure is audited as ``error``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from tradewarden.clock import Clock, utc_datetime
from tradewarden.control import Control, ControlError
from tradewarden.errors import NotFoundError
from tradewarden.probes.kinds import QueueSpec
from tradewarden.probes.kinds._queue_ops import QueueActionError, pause_queue
from tradewarden.runbooks._model import Action, Runbook
from tradewarden.runbooks._templates import MissingValue, render
from tradewarden.store import AuditRecord, AuditRepository, Database, Incident
from tradewarden.telemetry import get_logger

__all__ = [
    "AUDIT_ACTIONS",
    "ActionFailedError",
    "ActionPresser",
    "Controls",
    "Pressing",
    "RuntimeControls",
    "automatic_actor",
    "dispatch",
    "render_params",
    "target_of",
]

_log = get_logger("tradewarden.runbooks")

# The audit action each button is written as: the control endpoints' names.
AUDIT_ACTIONS: dict[str, str] = {
    "kill_switch.halt": "trading.halt",
    "kill_switch.reduce": "trading.reduce",
    "breaker.open": "breaker.open",
    "queue.pause": "queue.pause",
}
# Params each action needs (after rendering); ``message`` is optional for the kill switch.
_REQUIRED: dict[str, tuple[str, ...]] = {
    "kill_switch.halt": (),
    "kill_switch.reduce": (),
    "breaker.open": ("breaker",),
    "queue.pause": ("monitor", "queue"),
}


class ActionFailedError(Exception):
    """The action could not run: ``status`` is the HTTP answer (404, 409, 422, 503)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def automatic_actor(runbook_id: str) -> str:
    """Return who an unattended action is audited as."""
    return f"system:runbook:{runbook_id}"


def render_params(
    action: Action, labels: Mapping[str, str], annotations: Mapping[str, str]
) -> dict[str, str]:
    """Return the action's params rendered with the alert's values; 422 naming the param
    when a value is missing or a required param is absent."""
    params: dict[str, str] = {}
    for name, template in action.params.items():
        try:
            params[name] = render(template, labels, annotations)
        except MissingValue as exc:
            raise ActionFailedError(422, f"params.{name}: {exc}") from None
    for name in _REQUIRED[action.action]:
        if not params.get(name):
            raise ActionFailedError(422, f"params.{name}: {action.action} needs it")
    return params


class Controls(Protocol):
    """The control calls the buttons press (each returns what it did, for the audit)."""

    async def trading(
        self, verb: Literal["halt", "reduce"], actor: str, reason: str, message: str
    ) -> dict[str, Any]:
        """Halt or reduce trading."""
        ...

    async def open_breaker(self, name: str, *, forced: bool) -> dict[str, Any]:
        """Open a shared circuit breaker."""
        ...

    async def pause_queue(self, monitor: str, queue: str) -> dict[str, Any]:
        """Pause a queue a queue monitor watches."""
        ...


def target_of(name: str, params: Mapping[str, str]) -> str:
    """Return what the action changes, as the control endpoints audit it."""
    if name == "breaker.open":
        return params["breaker"]
    if name == "queue.pause":
        return f"{params['monitor']}/{params['queue']}"
    return "trading_state"


async def dispatch(
    controls: Controls, name: str, params: Mapping[str, str], *, actor: str, reason: str
) -> tuple[str, dict[str, Any]]:
    """Run the action ``name``; return its audit target and what it did."""
    if name in ("kill_switch.halt", "kill_switch.reduce"):
        verb: Literal["halt", "reduce"] = "halt" if name == "kill_switch.halt" else "reduce"
        message = params.get("message", "")
        done = await controls.trading(verb, actor, reason, message)
        return target_of(name, params), {"message": message, **done}
    if name == "breaker.open":
        forced = params.get("forced", "true").lower() not in ("false", "0", "no")
        done = await controls.open_breaker(params["breaker"], forced=forced)
        return target_of(name, params), {"forced": forced, **done}
    if name == "queue.pause":
        done = await controls.pause_queue(params["monitor"], params["queue"])
        return target_of(name, params), done
    raise ActionFailedError(422, f"action: {name!r} is not a known action")  # pragma: no cover


class _Scheduler(Protocol):
    def get(self, name: str) -> Any: ...


class RuntimeControls:
    """``Controls`` over the process's control services and queue monitors."""

    def __init__(
        self,
        control: Callable[[], Control | None],
        scheduler: Callable[[], _Scheduler | None],
    ) -> None:
        self._control = control
        self._scheduler = scheduler

    def _services(self) -> Control:
        control = self._control()
        if control is None:
            raise ActionFailedError(503, "the control services are not running")
        return control

    async def trading(
        self, verb: Literal["halt", "reduce"], actor: str, reason: str, message: str
    ) -> dict[str, Any]:
        """Halt or reduce, as ``POST /v1/kill-switch[/reduce]``."""
        control = self._services()
        change = control.trading.halt if verb == "halt" else control.trading.reduce
        try:
            outcome = await change(actor, reason, message)
        except ControlError as exc:
            raise ActionFailedError(503, exc.message) from None
        return {
            "changed": outcome.changed,
            "from": outcome.previous.state.name,
            "to": outcome.current.state.name,
            "version": outcome.current.version,
            "backend": control.trading.kind,
        }

    async def open_breaker(self, name: str, *, forced: bool) -> dict[str, Any]:
        """Open a breaker, as ``POST /v1/circuit-breakers/{name}/open``."""
        control = self._services()
        try:
            before, after = await control.breakers.act(name, "open", forced=forced)
        except NotFoundError as exc:
            raise ActionFailedError(404, exc.message) from None
        except ControlError as exc:  # not configured (no Redis) is 503 here: nothing to press
            raise ActionFailedError(503, exc.message) from None
        return {"from": before.state if before else None, "to": after.state}

    async def pause_queue(self, monitor: str, queue: str) -> dict[str, Any]:
        """Pause a queue, as ``POST /v1/queues/{monitor}/{queue}/pause``."""
        scheduler = self._scheduler()
        if scheduler is None:
            raise ActionFailedError(503, "monitors do not run in this process")
        status = scheduler.get(monitor)
        spec = getattr(status, "spec", None)
        if not isinstance(spec, QueueSpec) or queue not in spec.queues:
            raise ActionFailedError(404, f"no queue monitor {monitor!r} watching {queue!r}")
        try:
            result = await pause_queue(spec, queue)
        except QueueActionError as exc:
            raise ActionFailedError(503, str(exc)) from None
        return {"backend": result.backend, "paused": result.paused, **result.details}


@dataclass(frozen=True)
class Pressing:
    """Who presses which button, why, for which incident."""

    runbook: Runbook
    action: Action
    actor: str
    actor_type: str
    reason: str
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    request_id: str | None = None
    source_ip: str | None = None


class _Timeline(Protocol):
    """``tradewarden.incidents.IncidentService``'s part the buttons use."""

    async def record_control(
        self,
        session: AsyncSession,
        *,
        action: str,
        target: str | None,
        by: str,
        reason: str | None,
        details: Mapping[str, Any] | None = None,
    ) -> tuple[str, ...]: ...

    async def append(
        self,
        session: AsyncSession,
        incident: Incident,
        kind: Any,
        text: str,
        *,
        actor: str,
        data: dict[str, Any] | None = None,
        at: Any = None,
    ) -> Any: ...


class _Runtime(Protocol):
    """``tradewarden.runtime.Runtime``'s part the buttons use."""

    database: Database
    clock: Clock
    control: Control | None

    @property
    def incidents(self) -> Any: ...

    @property
    def scheduler(self) -> Any: ...


class ActionPresser:
    """Press buttons: run the action, audit it, put it on the incident's timeline."""

    @classmethod
    def for_runtime(cls, runtime: _Runtime) -> ActionPresser:
        """Return a presser over the process's services (read as each button is pressed)."""
        controls = RuntimeControls(lambda: runtime.control, lambda: runtime.scheduler)
        return cls(runtime.database, runtime.clock, runtime.incidents, controls)

    def __init__(
        self, database: Database, clock: Clock, timeline: _Timeline | None, controls: Controls
    ) -> None:
        self.database = database
        self.clock = clock
        self.timeline = timeline
        self.controls = controls

    def find(self, runbook: Runbook, action_id: str) -> Action:
        """Return the runbook's action ``action_id``; 404 when it has none."""
        for action in runbook.actions:
            if action.id == action_id:
                return action
        raise ActionFailedError(404, f"runbook {runbook.id!r} has no action {action_id!r}")

    async def press(self, incident: Incident, pressing: Pressing) -> dict[str, Any]:
        """Run the action; return the audit details. Raise ActionFailedError (audited as
        ``error`` when the control call failed)."""
        action = pressing.action
        params = render_params(action, pressing.labels, pressing.annotations)
        audit_action = AUDIT_ACTIONS[action.action]
        context = {
            "incident": incident.public_id,
            "runbook": pressing.runbook.id,
            "action": action.id,
            "params": params,
        }
        try:
            target, done = await dispatch(
                self.controls,
                action.action,
                params,
                actor=pressing.actor,
                reason=pressing.reason,
            )
        except ActionFailedError as exc:
            target = target_of(action.action, params)
            await self._audit(pressing, audit_action, target, {**context, "error": exc.message})
            raise
        details = {**context, **done}
        # On the timeline ``action`` is the control action (as the control endpoints write
        # it); the button's id is ``runbook_action``.
        entry = {k: v for k, v in details.items() if k != "action"}
        entry["runbook_action"] = action.id
        async with self.database.session() as session:
            await self._write(session, pressing, audit_action, target, details, outcome="success")
            if self.timeline is not None:
                ids = await self.timeline.record_control(
                    session,
                    action=audit_action,
                    target=target,
                    by=pressing.actor,
                    reason=pressing.reason,
                    details=entry,
                )
                if incident.public_id not in ids:  # resolved already: still its remediation
                    from tradewarden.incidents import Kind

                    await self.timeline.append(
                        session,
                        incident,
                        Kind.CONTROL,
                        f"{audit_action} {target}: {pressing.reason}",
                        actor=pressing.actor,
                        data={
                            "action": audit_action,
                            "target": target,
                            "reason": pressing.reason,
                            **entry,
                        },
                    )
        return {"target": target, **details}

    async def _audit(
        self, pressing: Pressing, audit_action: str, target: str | None, details: dict[str, Any]
    ) -> None:
        try:
            async with self.database.session() as session:
                await self._write(session, pressing, audit_action, target, details, outcome="error")
        except (SQLAlchemyError, OSError) as exc:
            _log.error("runbook action not audited", action=audit_action, error=repr(exc)[:200])

    async def _write(
        self,
        session: AsyncSession,
        pressing: Pressing,
        audit_action: str,
        target: str | None,
        details: dict[str, Any],
        *,
        outcome: Literal["success", "error"],
    ) -> None:
        record = AuditRecord(
            actor=pressing.actor,
            actor_type=pressing.actor_type,
            action=audit_action,
            outcome=outcome,
            target=target,
            reason=pressing.reason,
            details=details,
            request_id=pressing.request_id,
            source_ip=pressing.source_ip,
        )
        await AuditRepository(session).append(record, now=utc_datetime(self.clock.now()))

    async def automatic(
        self,
        incident_id: int,
        runbook: Runbook,
        action: Action,
        labels: Mapping[str, str],
        annotations: Mapping[str, str],
    ) -> None:
        """Press ``action`` unattended (the caller checked it is automatic and allowed)."""
        async with self.database.read_session() as session:
            incident = await session.get(Incident, incident_id)
        if incident is None:
            return
        pressing = Pressing(
            runbook=runbook,
            action=action,
            actor=automatic_actor(runbook.id),
            actor_type="system",
            reason=f"automatic: runbook {runbook.id} action {action.id} ({action.title})",
            labels=labels,
            annotations=annotations,
        )
        await self.press(incident, pressing)
