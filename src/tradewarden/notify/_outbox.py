"""Enqueue notifications: a row per (message, channel) before anything is sent.

``enqueue`` is one INSERT. Given the caller's session it writes inside the caller's
transaction (the alert and its notifications commit together) and wakes the local
workers when that transaction commits; without one it commits on its own. A repeated
enqueue of the same key (a retry after a crash) inserts nothing. Sending happens in the
workers, never in the caller.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import event
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from tradewarden.clock import Clock, utc_datetime
from tradewarden.errors import NotFoundError, StoreError
from tradewarden.notify._config import ChannelConfig
from tradewarden.notify._message import Message
from tradewarden.store import Database, Notification, NotificationRepository

__all__ = ["Outbox", "fit_key", "notification_key"]


_KEY_MAX = 400  # the column's width


def fit_key(key: str) -> str:
    """Return ``key`` if it fits the column, else its head and a digest of the whole."""
    if len(key) <= _KEY_MAX:
        return key
    return f"{key[:300]}#{hashlib.sha256(key.encode()).hexdigest()}"


def notification_key(message: Message, channel: str, sequence: int = 0) -> str:
    """Return the idempotency key: one notification per alert event, channel and sequence
    (the sequence tells a repeat notification of a still-firing alert from the first)."""
    return fit_key(f"{message.fingerprint}:{message.status.value}:{channel}:{sequence}")


class Outbox:
    """Write notifications to the store and wake the workers."""

    def __init__(
        self, database: Database, clock: Clock, channels: Mapping[str, ChannelConfig]
    ) -> None:
        self.database = database
        self.clock = clock
        self.channels = dict(channels)
        self._wake = asyncio.Event()

    def row(
        self,
        message: Message,
        channel: str,
        *,
        key: str,
        now: float,
    ) -> dict[str, Any]:
        """Return the row for ``message`` on ``channel`` (due at once)."""
        config = self.channels.get(channel)
        if config is None:
            raise NotFoundError(f"no channel {channel!r} is configured")
        return {
            "key": key,
            "channel": channel,
            "fingerprint": message.fingerprint,
            "event": message.status.value,
            "severity": message.severity.value,
            "title": message.title[:500],
            "message": message.model_dump(mode="json"),
            "state": "pending",
            "attempts": 0,
            "created_at": utc_datetime(now),
            "next_attempt_at": utc_datetime(now),
            "deadline_at": utc_datetime(now + config.retry.deadline_s),
            "fallback_of": None,
        }

    def fallback_row(self, failed: Notification, channel: str, *, now: float) -> dict[str, Any]:
        """Return the copy of a failed notification for its channel's fallback, the message
        as it was stored."""
        config = self.channels.get(channel)
        if config is None:
            raise NotFoundError(f"no channel {channel!r} is configured")
        return {
            "key": fit_key(f"{failed.key}>{channel}"),
            "channel": channel,
            "fingerprint": failed.fingerprint,
            "event": failed.event,
            "severity": failed.severity,
            "title": failed.title,
            "message": failed.message,
            "state": "pending",
            "attempts": 0,
            "created_at": utc_datetime(now),
            "next_attempt_at": utc_datetime(now),
            "deadline_at": utc_datetime(now + config.retry.deadline_s),
            "fallback_of": failed.id,
        }

    async def enqueue(
        self,
        message: Message,
        channels: Sequence[str],
        *,
        session: AsyncSession | None = None,
        sequence: int = 0,
    ) -> dict[str, int]:
        """Store ``message`` for each of ``channels``; return each channel's notification
        id (the existing one when this key was enqueued before). Raise NotFoundError for
        a channel that is not configured, before writing anything, and StoreError when the
        store is unreachable (nothing was stored: the caller decides)."""
        now = self.clock.now()
        rows = [
            self.row(message, name, key=notification_key(message, name, sequence), now=now)
            for name in dict.fromkeys(channels)
        ]
        if session is not None:
            ids = await NotificationRepository(session).insert_new(rows)
            self.wake_after_commit(session)
        else:
            try:
                async with self.database.session() as own:
                    ids = await NotificationRepository(own).insert_new(rows)
            except (SQLAlchemyError, OSError) as exc:
                cause = getattr(exc, "orig", None) or exc
                first = (str(cause).strip().splitlines() or [""])[0][:200]
                raise StoreError(
                    f"the outbox could not store the notification: {type(cause).__name__}: {first}"
                ) from exc
            self.wake()
        return {row["channel"]: ids[row["key"]] for row in rows}

    def wake_after_commit(self, session: AsyncSession) -> None:
        """Wake the workers once ``session`` commits (not if it rolls back)."""
        loop = asyncio.get_running_loop()

        def _committed(_session: Any) -> None:
            loop.call_soon_threadsafe(self._wake.set)

        event.listen(session.sync_session, "after_commit", _committed, once=True)

    def wake(self) -> None:
        """Tell the local workers there is work (an enqueue, a retry, a moved clock)."""
        self._wake.set()

    async def wait(self, timeout_s: float) -> None:
        """Return when woken or after ``timeout_s``; the wake-up is consumed."""
        if timeout_s > 0 and not self._wake.is_set():
            try:
                async with asyncio.timeout(timeout_s):
                    await self._wake.wait()
            except TimeoutError:
                pass
        self._wake.clear()
