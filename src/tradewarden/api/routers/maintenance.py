"""The config file's maintenance windows: which are active now and when each next starts
and ends (viewer role). They are changed in the file and applied by a reload."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel

from tradewarden.alerting import MaintenanceWindow, format_matchers
from tradewarden.api._deps import RuntimeDep, Viewer

router = APIRouter(prefix="/v1/maintenance", tags=["alerting"])


class WindowOut(BaseModel):
    name: str
    silence_id: str
    matchers: str
    comment: str
    recurring: bool
    cron: str | None
    duration_s: float | None
    timezone: str
    starts_at: datetime | None
    ends_at: datetime | None
    active: bool
    next_start: datetime | None
    next_end: datetime | None


def _at(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC)


def _out(window: MaintenanceWindow, now_ms: int) -> WindowOut:
    return WindowOut(
        name=window.name,
        silence_id=window.silence_id,
        matchers=format_matchers(window.matchers),
        comment=window.comment,
        recurring=window.recurring,
        cron=window.cron,
        duration_s=window.duration_ms / 1000 if window.recurring else None,
        timezone=window.timezone,
        starts_at=_at(window.starts_at_ms),
        ends_at=_at(window.ends_at_ms),
        active=window.active_at(now_ms),
        next_start=_at(window.next_start(now_ms)),
        next_end=_at(window.next_end(now_ms)),
    )


@router.get("", response_model=list[WindowOut], summary="List maintenance windows")
async def list_windows(_viewer: Viewer, runtime: RuntimeDep) -> list[WindowOut]:
    """Every window of the config in force: active now, its next start and next end
    (``next_end`` is null once a one-off window is over)."""
    alerting = runtime.alerting
    if alerting is None:
        raise HTTPException(503, "alerting does not run in this process")
    silences = alerting.silences
    now = silences.now_ms()
    return [_out(window, now) for window in silences.maintenance.windows]
