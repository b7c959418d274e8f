"""Notification history and an operator's retry.

``GET /v1/notifications`` (viewer) lists what was sent where and how it went, newest
first (filters ``status``, ``channel``, ``since``; page with ``before_id``);
``GET /v1/notifications/{id}`` adds every attempt. ``POST /v1/notifications/{id}/retry``
(operator, ``reason`` required) makes a failed or waiting notification due now with a
fresh deadline, audited as ``notification.retry`` in the same transaction. Channel URLs
and keys are never stored in these rows, and errors were redacted before they were.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from tradewarden.api._deps import Operator, RuntimeDep, Viewer, audit_context
from tradewarden.clock import utc_datetime
from tradewarden.notify import Notifier
from tradewarden.runtime import Runtime
from tradewarden.store import AuditRepository, Notification, NotificationRepository
from tradewarden.telemetry import redact_text

router = APIRouter(prefix="/v1/notifications", tags=["notifications"])

State = Literal["pending", "delivered", "failed"]
_Id = Annotated[int, Path(ge=1)]


class AttemptOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    number: int
    started_at: datetime
    duration_ms: float
    outcome: str = Field(description="ok, transient or permanent")
    status_code: int | None
    error: str | None


class NotificationOut(BaseModel):
    id: int
    key: str = Field(description="The idempotency key: fingerprint:status:channel:sequence.")
    channel: str
    fingerprint: str
    event: str = Field(description="firing, acknowledged or resolved")
    severity: str
    title: str
    status: State
    attempts: int
    created_at: datetime
    next_attempt_at: datetime | None = Field(description="When it is tried next (pending).")
    deadline_at: datetime
    delivered_at: datetime | None
    failed_at: datetime | None
    last_error: str | None
    fallback_of: int | None = Field(description="The notification this is a fallback copy of.")
    message: dict[str, Any]


class NotificationDetail(NotificationOut):
    attempt_log: list[AttemptOut]


class RetryBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=500, description="Why: written to the audit log.")


def _out(row: Notification) -> dict[str, Any]:
    message = dict(row.message)
    if message.get("ack_url"):
        message["ack_url"] = redact_text(str(message["ack_url"]))  # a signed link
    return {
        "id": row.id,
        "key": row.key,
        "channel": row.channel,
        "fingerprint": row.fingerprint,
        "event": row.event,
        "severity": row.severity,
        "title": row.title,
        "status": row.state,
        "attempts": row.attempts,
        "created_at": row.created_at,
        "next_attempt_at": row.next_attempt_at if row.state == "pending" else None,
        "deadline_at": row.deadline_at,
        "delivered_at": row.delivered_at,
        "failed_at": row.failed_at,
        "last_error": row.last_error,
        "fallback_of": row.fallback_of,
        "message": message,
    }


def _notifier(runtime: Runtime) -> Notifier:
    if runtime.notifier is None:
        raise HTTPException(503, "notifications are not set up in this process")
    return runtime.notifier


@router.get("", response_model=list[NotificationOut], summary="List notifications")
async def list_notifications(
    *,
    _viewer: Viewer,
    runtime: RuntimeDep,
    status: Annotated[State | None, Query(description="pending, delivered or failed")] = None,
    channel: Annotated[str | None, Query(max_length=100)] = None,
    since: Annotated[datetime | None, Query(description="Created at or after (UTC).")] = None,
    before_id: Annotated[int | None, Query(ge=1, description="Page: ids below this.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[NotificationOut]:
    """Return notifications newest first; page with ``before_id`` (the last id seen)."""
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    async with runtime.database.read_session() as session:
        rows = await NotificationRepository(session).list(
            states=[status] if status else None,
            channel=channel,
            since=since,
            before_id=before_id,
            limit=limit,
        )
    return [NotificationOut(**_out(row)) for row in rows]


@router.get("/{notification_id}", response_model=NotificationDetail, summary="One notification")
async def get_notification(
    notification_id: _Id, _viewer: Viewer, runtime: RuntimeDep
) -> NotificationDetail:
    """Return one notification with every attempt (time, outcome, redacted error)."""
    async with runtime.database.read_session() as session:
        repository = NotificationRepository(session)
        row = await repository.get(notification_id)
        if row is None:
            raise HTTPException(404, f"notification {notification_id} does not exist")
        attempts = await repository.attempts(notification_id)
    return NotificationDetail(
        **_out(row), attempt_log=[AttemptOut.model_validate(a) for a in attempts]
    )


@router.post(
    "/{notification_id}/retry", response_model=NotificationOut, summary="Retry a notification"
)
async def retry_notification(
    notification_id: _Id,
    body: RetryBody,
    request: Request,
    runtime: RuntimeDep,
    _operator: Operator,
) -> NotificationOut:
    """Make a failed (or waiting) notification due now, with a fresh deadline (audited)."""
    notifier = _notifier(runtime)
    now = runtime.clock.now()
    async with runtime.database.session() as session:
        repository = NotificationRepository(session)
        row = await repository.get(notification_id)
        if row is None:
            raise HTTPException(404, f"notification {notification_id} does not exist")
        if row.state == "delivered":
            raise HTTPException(409, f"notification {notification_id} was already delivered")
        config = notifier.outbox.channels.get(row.channel)
        if config is None:
            raise HTTPException(409, f"channel {row.channel!r} is no longer configured")
        before = row.state
        row = await repository.requeue(
            notification_id,
            now=utc_datetime(now),
            deadline=utc_datetime(now + config.retry.deadline_s),
        )
        if row is None:  # pragma: no cover - read above, in this transaction
            raise HTTPException(404, f"notification {notification_id} does not exist")
        record = dataclasses.replace(
            audit_context(request, body.reason),
            action="notification.retry",
            target=f"notification/{notification_id}",
            details={"channel": row.channel, "state_before": before, "attempts": row.attempts},
        )
        await AuditRepository(session).append(record, now=utc_datetime(now))
        out = NotificationOut(**_out(row))
    notifier.outbox.wake()
    return out
