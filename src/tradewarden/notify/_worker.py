"""Outbox workers: claim due notifications, send them, record every attempt.

A worker claims a batch with a conditional UPDATE (claim token + lease): workers of any
instance share the table and none gets a row another holds. While it works on a batch
the worker renews the lease of the rows it still holds (every third of the lease), and
each attempt is cut off at its channel's timeout, so a live worker never loses a row to
another, however long a batch waits for threads or a rate limit; a worker that dies
stops renewing, its leases expire, and another claims the rows again. The enqueuer
wakes the local worker at once; a slow poll finds what other instances enqueued.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import random as random_module
import secrets
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from tradewarden.clock import utc_datetime
from tradewarden.notify._config import ChannelConfig
from tradewarden.notify._message import Message
from tradewarden.notify._metrics import NotifyMetrics
from tradewarden.notify._outbox import Outbox
from tradewarden.notify._outcome import SendResult
from tradewarden.notify._policy import Next, TokenBucket, decide
from tradewarden.notify._redact import SecretScrubber
from tradewarden.notify.channels import Channel
from tradewarden.store import Notification, NotificationRepository
from tradewarden.telemetry import get_logger

__all__ = ["OutboxWorker"]

_log = get_logger("tradewarden.notify")
_ERROR_MAX = 2_000


class OutboxWorker:
    """Deliver what the outbox holds, until stopped."""

    def __init__(
        self,
        outbox: Outbox,
        channels: Mapping[str, Channel],
        *,
        metrics: NotifyMetrics,
        scrubber: SecretScrubber,
        batch_size: int = 50,
        poll_interval_s: float = 5.0,
        lease_s: float | None = None,
        renew_every_s: float | None = None,
        random: Callable[[], float] = random_module.random,
    ) -> None:
        self._outbox = outbox
        self._clock = outbox.clock
        self._channels = dict(channels)
        self._metrics = metrics
        self._scrubber = scrubber
        self._batch_size = batch_size
        self._poll_interval_s = poll_interval_s
        longest = max((c.retry.timeout_s for c in outbox.channels.values()), default=10.0)
        # Longer than any attempt plus the writes around it: a live worker never loses
        # its claim, so no row is sent twice while its worker lives.
        self.lease_s = lease_s if lease_s is not None else max(60.0, 2 * longest + 10.0)
        self.renew_every_s = renew_every_s if renew_every_s is not None else self.lease_s / 3
        self._random = random
        self._buckets: dict[str, TokenBucket] = {
            name: TokenBucket(c.rate_limit.per_second, c.rate_limit.burst)
            for name, c in outbox.channels.items()
            if c.rate_limit is not None
        }
        # Rows that hold a token borrowed from their channel's bucket: id -> when it is due.
        self._reserved: dict[int, float] = {}
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def start(self) -> None:
        """Run the loop in a task."""
        if self._task is None:
            self._stopping = False
            self._task = asyncio.create_task(self._run(), name="notify-outbox-worker")

    async def stop(self) -> None:
        """Finish the attempts in flight (each is bounded by its timeout), then stop."""
        self._stopping = True
        self._outbox.wake()
        if self._task is not None:
            task, self._task = self._task, None
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while not self._stopping:
            try:
                handled = await self.run_once()
            except (SQLAlchemyError, OSError) as exc:
                _log.warning("notify.outbox_unavailable", error=self._scrubber(str(exc))[:300])
                handled = 0
            except Exception as exc:  # noqa: BLE001 - a bug must not end delivery for good
                _log.exception("notify.worker_error", error=self._scrubber(repr(exc))[:300])
                handled = 0
            if self._stopping:
                return
            if handled:
                continue
            await self._outbox.wait(await self._idle_wait())

    async def _idle_wait(self) -> float:
        try:
            async with self._outbox.database.read_session() as session:
                due = await NotificationRepository(session).next_due()
        except (SQLAlchemyError, OSError):
            return self._poll_interval_s
        if due is None:
            return self._poll_interval_s
        return min(self._poll_interval_s, max(0.0, due.timestamp() - self._clock.now()))

    async def run_once(self) -> int:
        """Claim one batch of due notifications and handle it; return how many."""
        token = secrets.token_hex(16)
        now = self._clock.now()
        async with self._outbox.database.session() as session:
            rows = await NotificationRepository(session).claim(
                token=token,
                now=utc_datetime(now),
                lease_until=utc_datetime(now + self.lease_s),
                limit=self._batch_size,
            )
        if rows:
            renewing = asyncio.create_task(self._renew(token), name="notify-lease-renewal")
            try:
                await asyncio.gather(*(self._handle(row, token) for row in rows))
            finally:
                renewing.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await renewing
        return len(rows)

    async def _renew(self, token: str) -> None:
        """Keep this batch's leases alive until it is done (then cancelled)."""
        while True:
            await asyncio.sleep(self.renew_every_s)
            lease_until = utc_datetime(self._clock.now() + self.lease_s)
            try:
                async with self._outbox.database.session() as session:
                    await NotificationRepository(session).renew(
                        token=token, lease_until=lease_until
                    )
            except (SQLAlchemyError, OSError) as exc:  # the next round tries again
                _log.warning("notify.lease_renewal_failed", error=self._scrubber(str(exc))[:300])

    async def _handle(self, row: Notification, token: str) -> None:
        channel = self._channels.get(row.channel)
        config = self._outbox.channels.get(row.channel)
        now = self._clock.now()
        if channel is None or config is None:
            result = SendResult.permanent(f"channel {row.channel!r} is no longer configured")
            await self._record(row, token, result, started=now, duration_s=0.0, config=None)
            return
        due = self._slot(row, now)
        if due > now:
            # Over the channel's rate: back in the queue (no attempt spent) until its slot.
            async with self._outbox.database.session() as session:
                await NotificationRepository(session).finish(
                    row.id, token, next_attempt_at=utc_datetime(due)
                )
            return
        started_mono = self._clock.monotonic()
        started = now
        try:
            message = Message.model_validate(row.message)
        except ValidationError as exc:  # stored by another version: no retry mends it
            result = SendResult.permanent(f"the stored message is not valid: {exc.errors()[:3]}")
        else:
            try:
                result = await channel.send(message, timeout_s=config.retry.timeout_s)
            except Exception as exc:  # noqa: BLE001 - a channel bug must not stop the worker
                result = SendResult.transient(f"channel raised {type(exc).__name__}: {exc}")
        duration_s = max(0.0, self._clock.monotonic() - started_mono)
        await self._record(
            row, token, result, started=started, duration_s=duration_s, config=config
        )

    def _slot(self, row: Notification, now: float) -> float:
        """Return when ``row`` may be sent under its channel's rate limit."""
        bucket = self._buckets.get(row.channel)
        if bucket is None:
            return now
        reserved = self._reserved.pop(row.id, None)
        if reserved is not None:  # its token was taken when it was first held back
            if reserved > now + 1e-6:
                self._reserved[row.id] = reserved
            return reserved
        wait = bucket.reserve(now)
        if wait <= 0:
            return now
        if len(self._reserved) > 10_000:  # rows another instance sent: forget them
            self._reserved = {k: v for k, v in self._reserved.items() if v > now - self.lease_s}
        self._reserved[row.id] = now + wait
        return now + wait

    async def _record(
        self,
        row: Notification,
        token: str,
        result: SendResult,
        *,
        started: float,
        duration_s: float,
        config: ChannelConfig | None,
    ) -> None:
        now = self._clock.now()
        attempt = row.attempts + 1
        error = self._scrubber(result.error)[:_ERROR_MAX] if result.error else None
        result = dataclasses.replace(result, error=error)  # everything below sees it masked
        if config is None:
            step = Next("failed", reason=error)
        else:
            step = decide(
                result,
                attempt=attempt,
                now=now,
                deadline=row.deadline_at.timestamp(),
                retry=config.retry,
                random=self._random,
            )
        values: dict[str, Any] = {"attempts": attempt, "last_error": error, "state": step.state}
        if step.state == "delivered":
            values["delivered_at"] = utc_datetime(now)
        elif step.state == "failed":
            values["failed_at"] = utc_datetime(now)
            values["last_error"] = self._scrubber(step.reason or "failed")[:_ERROR_MAX]
        else:
            values["next_attempt_at"] = utc_datetime(step.retry_at or now)
        fallback = config.fallback if config is not None else None
        async with self._outbox.database.session() as session:
            repository = NotificationRepository(session)
            await repository.add_attempt(
                notification_id=row.id,
                number=attempt,
                started_at=utc_datetime(started),
                duration_ms=duration_s * 1000.0,
                outcome=result.outcome.value,
                status_code=result.status_code,
                error=error,
            )
            kept = await repository.finish(row.id, token, **values)
            if kept and step.state == "failed" and fallback is not None:
                copy = self._outbox.fallback_row(row, fallback, now=now)
                await repository.insert_new([copy])
        self._metrics.duration.labels(row.channel).observe(duration_s)
        self._count(row.channel, result, step, kept=kept)
        if kept and (step.state == "pending" or fallback is not None):
            self._outbox.wake()

    def _count(self, channel: str, result: SendResult, step: Next, *, kept: bool) -> None:
        self._metrics.attempts.labels(channel, result.outcome.value).inc()
        if not kept:
            _log.warning("notify.claim_lost", channel=channel)
            return
        if step.state == "delivered":
            self._metrics.deliveries.labels(channel).inc()
        elif step.state == "failed":
            self._metrics.failures.labels(channel).inc()
            _log.warning("notify.failed", channel=channel, reason=step.reason)
