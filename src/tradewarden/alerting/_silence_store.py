"""Silences in the store, with an in-memory copy the dispatcher reads without I/O.

Every change writes its audit record (who, when, why) in the same transaction. Expired
silences stay for history. ``refresh()`` reads the store again (other instances' changes).

The config file's maintenance windows mute here too (``maintenance:<name>`` among the
ids ``silenced_by`` returns), so whatever honours silences honours them.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from tradewarden.alerting._maintenance import MaintenanceSchedule, MaintenanceWindow
from tradewarden.alerting._silences import (
    Silence,
    SilenceError,
    matchers_from_api,
    matchers_to_api,
)
from tradewarden.clock import Clock, utc_datetime
from tradewarden.errors import NotFoundError
from tradewarden.series import LabelMatcher, Labels
from tradewarden.store import AlertingRepository, AuditRecord, AuditRepository, Database
from tradewarden.store._alerting import SilenceRow

__all__ = ["SilenceStore"]


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def _from_row(row: SilenceRow) -> Silence:
    return Silence(
        id=row.id,
        matchers=matchers_from_api(row.matchers),
        starts_at_ms=_ms(row.starts_at),
        ends_at_ms=_ms(row.ends_at),
        created_by=row.created_by,
        comment=row.comment,
        updated_at_ms=_ms(row.updated_at),
    )


def _to_row(silence: Silence) -> dict[str, object]:
    return {
        "id": silence.id,
        "matchers": matchers_to_api(silence.matchers),
        "starts_at": utc_datetime(silence.starts_at_ms / 1000),
        "ends_at": utc_datetime(silence.ends_at_ms / 1000),
        "created_by": silence.created_by[:200],
        "comment": silence.comment,
        "updated_at": utc_datetime(silence.updated_at_ms / 1000),
    }


class SilenceStore:
    """Create, list and expire silences; answer ``silenced(labels)`` from memory."""

    def __init__(
        self, database: Database, clock: Clock, windows: Sequence[MaintenanceWindow] = ()
    ) -> None:
        self.database = database
        self.clock = clock
        self._silences: dict[str, Silence] = {}
        self.maintenance = MaintenanceSchedule(windows)

    def set_windows(self, windows: Sequence[MaintenanceWindow]) -> None:
        """Mute by these maintenance windows from now on (a config reload)."""
        self.maintenance = MaintenanceSchedule(windows)

    def now_ms(self) -> int:
        """Return the clock's time in milliseconds."""
        return int(self.clock.now() * 1000)

    async def refresh(self) -> None:
        """Read every silence from the store."""
        async with self.database.read_session() as session:
            rows = await AlertingRepository(session).silences()
        self._silences = {row.id: _from_row(row) for row in rows}

    def all(self) -> list[Silence]:
        """Every silence known, newest change first."""
        return sorted(self._silences.values(), key=lambda s: (-s.updated_at_ms, s.id))

    def get(self, silence_id: str) -> Silence:
        """Return one silence; NotFoundError when unknown."""
        silence = self._silences.get(silence_id)
        if silence is None:
            raise NotFoundError(f"silence {silence_id!r} not found")
        return silence

    def silenced_by(self, labels: Labels, now_ms: int | None = None) -> list[str]:
        """Return the ids of the active silences and maintenance windows (``maintenance:<name>``)
        that mute ``labels``."""
        at = self.now_ms() if now_ms is None else now_ms
        ids = [s.id for s in self._silences.values() if s.mutes(labels, at)]
        if self.maintenance.windows:
            ids += self.maintenance.muting(labels, at)
        return ids

    async def put(
        self,
        *,
        matchers: Sequence[LabelMatcher],
        starts_at_ms: int | None,
        ends_at_ms: int,
        created_by: str,
        comment: str,
        audit: AuditRecord,
        silence_id: str | None = None,
    ) -> Silence:
        """Create a silence, or replace the one of ``silence_id`` (SilenceError, NotFoundError)."""
        now = self.now_ms()
        if silence_id is not None and silence_id not in self._silences:
            await self.refresh()
            self.get(silence_id)
        starts = now if starts_at_ms is None or starts_at_ms < now else starts_at_ms
        silence = Silence(
            id=silence_id or str(uuid.uuid4()),
            matchers=tuple(matchers),
            starts_at_ms=starts,
            ends_at_ms=ends_at_ms,
            created_by=created_by,
            comment=comment,
            updated_at_ms=now,
        ).validate()
        if ends_at_ms <= now:
            raise SilenceError("endsAt: the silence would end in the past")
        action = "silence.update" if silence_id else "silence.create"
        await self._write(silence, audit, action)
        return silence

    async def expire(self, silence_id: str, *, audit: AuditRecord) -> Silence:
        """Expire a silence now (it is kept); NotFoundError when unknown."""
        if silence_id not in self._silences:
            await self.refresh()
        silence = self.get(silence_id).expired(self.now_ms())
        await self._write(silence, audit, "silence.expire")
        return silence

    async def _write(self, silence: Silence, audit: AuditRecord, action: str) -> None:
        record = AuditRecord(
            actor=audit.actor,
            actor_type=audit.actor_type,
            action=action,
            outcome="success",
            target=silence.id,
            reason=audit.reason or silence.comment[:500],
            details={
                "matchers": [str(m) for m in silence.matchers],
                "starts_at_ms": silence.starts_at_ms,
                "ends_at_ms": silence.ends_at_ms,
                "created_by": silence.created_by,
            },
            request_id=audit.request_id,
            source_ip=audit.source_ip,
        )
        now = utc_datetime(self.clock.now())
        async with self.database.session() as session:
            await AlertingRepository(session).add_silence(_to_row(silence))
            await AuditRepository(session).append(record, now=now)
        self._silences[silence.id] = silence
