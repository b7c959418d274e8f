"""The dispatcher: alerts in, aggregation groups, flushes out through the notifier.

``ingest`` merges alerts by fingerprint (deduplication), routes new ones into their
groups (a new group flushes after ``group_wait``, a P0 one at once), and stores alerts and
groups in one transaction; concurrent calls share it (group commit), and memory changes
only once it committed. A resend that only moves an alert's end a little is not written
(see :func:`is_unchanged_resend`). ``flush_due`` flushes every group whose deadline has passed: the
pure :func:`plan_flush` decides, and the notifications are enqueued *in the same
transaction* as the group's new state, with the group's flush number as the sequence, so
a crash either loses both or keeps both and a retried flush inserts nothing twice. Group
deadlines are stored: after a restart, ``load`` resumes them.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from tradewarden.alerting._flush import FIRING, GroupState, plan_flush
from tradewarden.alerting._inhibit import Inhibitor
from tradewarden.alerting._messages import alert_message, group_message
from tradewarden.alerting._metrics import AlertingMetrics
from tradewarden.alerting._model import Alert, Source
from tradewarden.alerting._routing import Route, RouteMatch, Router
from tradewarden.alerting._silence_store import SilenceStore
from tradewarden.alerting._timeintervals import TimeInterval
from tradewarden.clock import Clock, utc_datetime
from tradewarden.errors import StoreError
from tradewarden.notify import Message
from tradewarden.series import Labels
from tradewarden.store import AlertingRepository, Database
from tradewarden.store._alerting import AlertGroupRow, AlertRow, alert_upsert, group_upsert

__all__ = ["Dispatcher", "Enqueue", "Escalation", "FlushObserver"]

log = logging.getLogger(__name__)

DEFAULT_RESOLVE_TIMEOUT_MS = 5 * 60_000


class Enqueue(Protocol):
    """``Notifier.enqueue``: store a message for channels in the caller's session."""

    def __call__(
        self,
        message: Message,
        channels: Sequence[str],
        *,
        session: AsyncSession | None = None,
        sequence: int = 0,
    ) -> Awaitable[dict[str, int]]:
        """Enqueue."""
        ...


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def _dt(ms: int | None) -> datetime | None:
    return None if ms is None else utc_datetime(ms / 1000)


class Escalation(Protocol):
    """The escalator's side for the dispatcher (``tradewarden.escalation.Escalator``)."""

    def ack_url_for(self, key: str) -> str | None:
        """Return a signed acknowledgement link for ``key``."""
        ...

    async def escalate(self, key: str, message: Message, *, session: AsyncSession | None) -> Any:
        """Start (or keep) escalating ``key`` by the policy of the message's severity."""
        ...

    async def resolve(self, key: str, *, session: AsyncSession | None = None) -> bool:
        """Stop escalating ``key``: the alert resolved."""
        ...


class FlushObserver(Protocol):
    """Told of every notifying flush, in the flush's transaction (incidents listen here).

    ``firing`` and ``resolved`` are what the flush announces; ``channels`` the channels
    it went to. Raising rolls the flush back (it is retried whole), so an observer
    records and returns.
    """

    async def on_flush(
        self,
        group_key: str,
        group_labels: dict[str, str],
        *,
        firing: Sequence[Alert],
        resolved: Sequence[Alert],
        channels: Sequence[str],
        session: AsyncSession,
    ) -> None:
        """Record the flush."""
        ...


class Dispatcher:
    """Groups, timers and flushes (see the module's docstring)."""

    def __init__(
        self,
        database: Database,
        clock: Clock,
        router: Router,
        *,
        enqueue: Enqueue,
        silences: SilenceStore,
        inhibitor: Inhibitor | None = None,
        time_intervals: Sequence[TimeInterval] = (),
        per_alert_channels: Callable[[str], bool] = lambda _channel: False,
        resolve_timeout_ms: int = DEFAULT_RESOLVE_TIMEOUT_MS,
        flap_flips: int = 4,
        flap_window_ms: int = 10 * 60_000,
        escalation: Escalation | None = None,
        metrics: AlertingMetrics | None = None,
        observers: Sequence[FlushObserver] = (),
    ) -> None:
        self.database = database
        self.clock = clock
        self.router = router
        self.enqueue = enqueue
        self.silences = silences
        self.inhibitor = inhibitor or Inhibitor(())
        self.intervals = {i.name: i for i in time_intervals}
        self.per_alert = per_alert_channels
        self.resolve_timeout_ms = resolve_timeout_ms
        self.flap_flips = flap_flips
        self.flap_window_ms = flap_window_ms
        self.escalation = escalation
        self.metrics = metrics or AlertingMetrics(None)
        self.observers: list[FlushObserver] = list(observers)
        self.alerts: dict[str, Alert] = {}
        self.groups: dict[str, GroupState] = {}
        self._routes = {r.id: r for r in router.root.walk()}
        # The times each alert last flipped, newest last. Tuples of ints, not deques: the
        # garbage collector stops tracking them, and a full pass over 10,000 live alerts
        # is what sets the ingest's slowest requests.
        self._flips: dict[str, tuple[int, ...]] = {}
        # Fingerprints whose stored end is older than the one in memory (a resend not
        # written: see is_unchanged_resend), with that stored end.
        self._stored_end_ms: dict[str, int | None] = {}
        self._queued: list[_Queued] = []
        self._writer: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def now_ms(self) -> int:
        """Return the clock's time in milliseconds."""
        return int(self.clock.now() * 1000)

    def reconfigure(
        self,
        router: Router,
        *,
        inhibitor: Inhibitor,
        time_intervals: Sequence[TimeInterval],
    ) -> None:
        """Route by a new tree from now on (a config reload); the groups stay.

        A stored group whose route is gone flushes by the root's timers (see ``_flush``);
        alerts are routed into the new tree's groups as they are next received.
        """
        self.router = router
        self.inhibitor = inhibitor
        self.intervals = {i.name: i for i in time_intervals}
        self._routes = {r.id: r for r in router.root.walk()}

    # --- state ---------------------------------------------------------------------

    async def load(self) -> None:
        """Read the stored alerts and groups; rebuild the groups' members by routing."""
        async with self.database.read_session() as session:
            repo = AlertingRepository(session)
            alert_rows, group_rows = await repo.alerts(), await repo.groups()
        self.alerts = {row.fingerprint: _alert_of(row) for row in alert_rows}
        self.groups = {row.key: _group_of(row) for row in group_rows}
        self._stored_end_ms = {}
        for fp, alert in self.alerts.items():
            for match in self.router.route(alert):
                group = self.groups.get(match.group_key)
                if group is not None:
                    group.members.add(fp)
        self._gauges()
        await self.silences.refresh()

    def active(self) -> list[Alert]:
        """Every alert not resolved, oldest first."""
        now = self.now_ms()
        return sorted(
            (a for a in self.alerts.values() if not a.resolved(now)), key=lambda a: a.starts_at_ms
        )

    def muted_by(self, alert: Alert) -> tuple[list[str], str | None]:
        """Return the silences muting ``alert`` and the fingerprint inhibiting it."""
        return self.muting()(alert)

    def muting(self) -> Callable[[Alert], tuple[list[str], str | None]]:
        """Return ``muted_by`` over the alerts of now (the inhibition sources indexed once)."""
        now = self.now_ms()
        inhibited_by = self.inhibitor.index(list(self.alerts.values()), now)

        def muted_by(alert: Alert) -> tuple[list[str], str | None]:
            return self.silences.silenced_by(alert.labels, now), inhibited_by(alert)

        return muted_by

    # --- ingest --------------------------------------------------------------------

    async def ingest(self, alerts: Sequence[Alert]) -> None:
        """Merge and route ``alerts``; store them and their groups; return once stored.

        Concurrent calls are committed together (group commit): each queues its alerts,
        one writer drains the queue into one transaction, and every caller returns when
        the transaction holding its alerts has committed. A failed write raises in each
        of its callers (StoreError, SQLAlchemyError, OSError) and changes nothing in
        memory: the alerts, groups and flap history change only after the commit.
        """
        if not alerts:
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queued.append(_Queued(alerts, done))
        if self._writer is None:
            self._writer = asyncio.create_task(self._write_queued(), name="alerting-ingest")
        await done

    async def _write_queued(self) -> None:
        """Commit everything queued, batch after batch, until the queue is empty."""
        try:
            while self._queued:
                batch, self._queued = self._queued, []
                async with self._lock:
                    await self._commit_batch(batch)
                self._wake.set()
        finally:
            self._writer = None
            for left in self._queued:  # only when this task is cancelled (shutdown)
                left.done.cancel()
            self._queued = []

    async def _commit_batch(self, batch: list[_Queued]) -> None:
        try:
            await self._store_and_apply([a for queued in batch for a in queued.alerts])
        except asyncio.CancelledError:
            for queued in batch:
                queued.done.cancel()
            raise
        except Exception as exc:  # noqa: BLE001 - handed to every caller, raised there
            if len(batch) == 1 or _unreachable(exc):
                for queued in batch:
                    _fail(queued.done, exc)
                return
            # The store answered but refused: perhaps one caller's data. Each alone, so a
            # bad request fails by itself and does not take its neighbours down with it.
            for queued in batch:
                try:
                    await self._store_and_apply(queued.alerts)
                except Exception as alone:  # noqa: BLE001 - raised in its caller
                    _fail(queued.done, alone)
                else:
                    _succeed(queued.done)
            return
        for queued in batch:
            _succeed(queued.done)

    async def _store_and_apply(self, alerts: Sequence[Alert]) -> None:
        """Merge ``alerts`` into a staging copy, write it in one transaction, then apply it."""
        now = self.now_ms()
        staged = self._merge(alerts, now)
        # One transaction; on a SQLite file one hand-off to its writer thread (the store's
        # Database.upsert), not a round trip per driver call.
        await self.database.upsert(
            [
                alert_upsert([_row_of(fp, a) for fp, a in staged.writes.items()]),
                group_upsert(list(staged.group_rows.values())),
            ]
        )
        self._apply(staged, now)

    def _merge(self, alerts: Sequence[Alert], now: int) -> _Staged:
        """Return what ``alerts`` change; nothing in ``self`` changes here."""
        staged = _Staged()
        before: dict[str, Alert | None] = {}
        for source, count in collections.Counter(a.source for a in alerts).items():
            self.metrics.received.labels(source.value).inc(count)
        for incoming in alerts:
            alert = _received(incoming, now, now + self.resolve_timeout_ms)
            fp = alert.fingerprint
            old = staged.alerts[fp] if fp in staged.alerts else self.alerts.get(fp)
            if fp not in before:
                before[fp] = self.alerts.get(fp)
            if old is not None and not old.resolved(now):
                alert = old.merge(alert)
            if alert.resolved(now) and old is None:
                continue  # the end of an alert never seen: nothing to announce or keep
            if old is None or old.resolved(now) != alert.resolved(now):
                staged.flips.append(fp)
            staged.alerts[fp] = alert
            for match in self.router.route(alert):
                self._stage_group(staged, match, alert, fp, now)
        for fp, alert in staged.alerts.items():
            old = before.get(fp)
            stored_end = self._stored_end_ms.get(fp, old.ends_at_ms if old else None)
            if old is not None and is_unchanged_resend(old, alert, stored_end, now):
                staged.skipped[fp] = stored_end
            else:
                staged.writes[fp] = alert
        return staged

    def _stage_group(
        self, staged: _Staged, match: RouteMatch, alert: Alert, fp: str, now: int
    ) -> None:
        key = match.group_key
        group = staged.new_groups.get(key) or self.groups.get(key)
        if group is None:
            group = GroupState(
                key=key,
                route_id=match.route.id,
                labels=dict(match.group_labels),
                created_ms=now,
            )
            wait = match.group_wait_ms
            if alert.starts_at_ms + wait < now:
                wait = 0  # an old alert: no point waiting (Alertmanager)
            group.next_flush_ms = now + wait
            staged.new_groups[key] = group
            staged.group_rows[key] = _group_row(group)
        elif match.group_wait_ms == 0 and group.last_flush_ms is None:
            current = staged.next_flush_ms.get(key, group.next_flush_ms)
            due = min(current or now, now)
            if key in staged.new_groups:
                group.next_flush_ms = due
            else:
                staged.next_flush_ms[key] = due
            staged.group_rows[key] = _group_row(replace(group, next_flush_ms=due))
        if fp not in group.members:
            staged.members.setdefault(key, set()).add(fp)

    def _apply(self, staged: _Staged, now: int) -> None:
        """Apply a committed ``staged`` to memory."""
        self.alerts.update(staged.alerts)
        self.groups.update(staged.new_groups)
        for key, due in staged.next_flush_ms.items():
            self.groups[key].next_flush_ms = due
        for key, members in staged.members.items():
            self.groups[key].members.update(members)
        for fp in staged.writes:
            self._stored_end_ms.pop(fp, None)
        self._stored_end_ms.update(staged.skipped)
        for fp in staged.flips:
            self._flip(fp, now)
        self._gauges()

    def _gauges(self) -> None:
        self.metrics.alerts.set(len(self.alerts))
        self.metrics.groups.set(len(self.groups))

    def _flip(self, fp: str, now: int) -> None:
        kept = self.flap_flips * 2 - 1
        self._flips[fp] = (*self._flips.get(fp, ())[-kept:], now) if kept > 0 else (now,)

    def _flapping(self, fp: str, now: int) -> bool:
        flips = self._flips.get(fp)
        if not flips:
            return False
        recent = [t for t in flips if now - t <= self.flap_window_ms]
        return len(recent) >= self.flap_flips

    # --- flush ---------------------------------------------------------------------

    def next_deadline_ms(self) -> int | None:
        """Return the earliest flush deadline, or None with no group."""
        deadlines = [g.next_flush_ms for g in self.groups.values() if g.next_flush_ms is not None]
        return min(deadlines) if deadlines else None

    async def flush_due(self) -> int:
        """Flush every group whose deadline has passed; return how many notified."""
        sent = 0
        async with self._lock:
            now = self.now_ms()
            muting = self.muting()

            def muted(alert: Alert) -> bool:
                silenced, inhibited = muting(alert)
                return bool(silenced) or inhibited is not None

            for key in sorted(self.groups):
                group = self.groups.get(key)
                if group is None or group.next_flush_ms is None or group.next_flush_ms > now:
                    continue
                if await self._flush(group, now, muted):
                    sent += 1
        return sent

    def _time_muted(self, route: Route, now: int) -> bool:
        at = utc_datetime(now / 1000)
        if any(self.intervals[n].contains(at) for n in route.mute_time_intervals):
            return True
        active = route.active_time_intervals
        return bool(active) and not any(self.intervals[n].contains(at) for n in active)

    async def _flush(self, group: GroupState, now: int, muted: Callable[[Alert], bool]) -> bool:
        route = self._routes.get(group.route_id)
        if route is None:  # the tree changed under a stored group
            route = self.router.root
        held = {
            fp
            for fp in group.members
            if fp in self.alerts
            and self.alerts[fp].resolved(now)
            and self._flapping(fp, now)
            and (self.alerts[fp].ends_at_ms or now) > now - self.flap_window_ms
        }
        plan = plan_flush(
            group,
            self.alerts,
            now_ms=now,
            repeat_interval_ms=route.repeat_interval_ms,
            muted=muted,
            held=held,
        )
        send = plan.send and not self._time_muted(route, now)
        severity_alerts = plan.firing or plan.resolved
        channels: tuple[str, ...] = ()
        if severity_alerts:
            match = self.router.route(severity_alerts[0])
            chosen = [m for m in match if m.group_key == group.key]
            channels = chosen[0].channels if chosen else ()
        after = replace(
            group,
            members=group.members - plan.leave,
            notified=plan.notified if send else group.notified,
            sequence=group.sequence + 1 if send else group.sequence,
            last_flush_ms=now if send else group.last_flush_ms,
            next_flush_ms=now + route.group_interval_ms,
        )
        drop = not after.members and not after.notified
        others = [g for k, g in self.groups.items() if k != group.key]
        gone = [
            fp
            for fp in plan.leave
            if fp in self.alerts
            and fp not in after.members
            and not any(fp in g.members for g in others)
        ]
        # One transaction: the notifications, the group's new state and the alerts that
        # left. Memory changes only once it committed, so a failed flush is retried whole.
        async with self.database.session() as session:
            if send:
                await self._notify(
                    session,
                    group,
                    firing=plan.firing,
                    resolved=plan.resolved,
                    channels=channels,
                    sequence=after.sequence,
                )
            repo = AlertingRepository(session)
            if drop:
                await repo.delete_group(group.key)
            else:
                await repo.put_group(_group_row(after))
            await repo.delete_alerts(gone)
        if drop:
            self.groups.pop(group.key, None)
        else:
            self.groups[group.key] = after
        for fp in gone:
            self.alerts.pop(fp, None)
            self._stored_end_ms.pop(fp, None)
        outcome = "notified" if send else ("muted" if plan.send else "quiet")
        self.metrics.flushes.labels(outcome).inc()
        self._gauges()
        return send and bool(channels)

    async def _notify(
        self,
        session: AsyncSession,
        group: GroupState,
        *,
        firing: Sequence[Alert],
        resolved: Sequence[Alert],
        channels: Sequence[str],
        sequence: int,
    ) -> None:
        grouped = [c for c in channels if not self.per_alert(c)]
        single = [c for c in channels if self.per_alert(c)]
        message = group_message(group.key, group.labels, firing, resolved)
        if self.escalation is not None and firing:
            ack_url = self.escalation.ack_url_for(group.key)
            message = message.model_copy(update={"ack_url": ack_url})
        if grouped:
            await self.enqueue(message, grouped, session=session, sequence=sequence)
        # In the same transaction: an unacknowledged group pages people by its policy;
        # once nothing in it fires, its escalation stops.
        if self.escalation is not None and firing:
            await self.escalation.escalate(group.key, message, session=session)
        elif self.escalation is not None:
            await self.escalation.resolve(group.key, session=session)
        if single:
            for alert in firing:
                if group.notified.get(alert.fingerprint) != FIRING:
                    msg = alert_message(alert, resolved=False)
                    await self.enqueue(msg, single, session=session, sequence=sequence)
            for alert in resolved:
                msg = alert_message(alert, resolved=True)
                await self.enqueue(msg, single, session=session, sequence=sequence)
        for observer in self.observers:
            await observer.on_flush(
                group.key,
                group.labels,
                firing=firing,
                resolved=resolved,
                channels=channels,
                session=session,
            )

    # --- the loop ------------------------------------------------------------------

    def start(self) -> None:
        """Flush groups as their deadlines come (in this process)."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="alerting-dispatcher")

    async def stop(self) -> None:
        """Stop the loop (a flush in progress finishes: it is one transaction)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            try:
                await self.flush_due()
            except Exception:  # the store may be down: try again later
                log.exception("alerting: a flush failed; retrying")
                await self._sleep(1.0)
                continue
            deadline = self.next_deadline_ms()
            delay = 3600.0 if deadline is None else max(0.0, (deadline - self.now_ms()) / 1000)
            await self._sleep(delay)

    async def _sleep(self, seconds: float) -> None:
        self._wake.clear()
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()

        def _done() -> None:
            if not waiter.done():
                waiter.set_result(None)

        handle = loop.call_later(seconds, _done)
        wake = asyncio.ensure_future(self._wake.wait())
        wake.add_done_callback(lambda _t: _done())
        try:
            await waiter
        finally:
            handle.cancel()
            wake.cancel()


@dataclass(slots=True)
class _Queued:
    """One ``ingest`` call waiting for the transaction that holds its alerts."""

    alerts: Sequence[Alert]
    done: asyncio.Future[None]


@dataclass(slots=True)
class _Staged:
    """What one transaction of ingest changes, applied to memory only once committed."""

    alerts: dict[str, Alert] = field(default_factory=dict)
    writes: dict[str, Alert] = field(default_factory=dict)
    skipped: dict[str, int | None] = field(default_factory=dict)
    new_groups: dict[str, GroupState] = field(default_factory=dict)
    next_flush_ms: dict[str, int] = field(default_factory=dict)
    members: dict[str, set[str]] = field(default_factory=dict)
    group_rows: dict[str, dict[str, Any]] = field(default_factory=dict)
    flips: list[str] = field(default_factory=list)


def is_unchanged_resend(old: Alert, new: Alert, stored_end_ms: int | None, now_ms: int) -> bool:
    """Whether ``new`` (``old`` merged with a resend) need not be written.

    Prometheus resends every firing alert each evaluation with a later end. Such a resend
    changes only the end and ``updated_at``; it is written only once the stored end would
    cover less than half of the horizon the sender now gives (``new``'s end minus now), so a
    restart reading the stored end never resolves an alert that is still being resent.
    """
    if old.resolved(now_ms) or new.resolved(now_ms):
        return False
    if new.ends_at_ms is None or stored_end_ms is None or new.ends_at_ms < stored_end_ms:
        return False
    if 2 * (stored_end_ms - now_ms) < new.ends_at_ms - now_ms:
        return False
    return (
        new.starts_at_ms == old.starts_at_ms
        and new.source == old.source
        and new.generator_url == old.generator_url
        and new.annotations == old.annotations
    )


def _unreachable(exc: BaseException) -> bool:
    """Whether ``exc`` says the store could not be reached (not that it refused the data)."""
    if isinstance(exc, OSError | TimeoutError | StoreError | OperationalError | InterfaceError):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def _succeed(done: asyncio.Future[None]) -> None:
    if not done.done():  # its caller may have been cancelled meanwhile
        done.set_result(None)


def _fail(done: asyncio.Future[None], exc: BaseException) -> None:
    if not done.done():
        done.set_exception(exc)


def _received(alert: Alert, now: int, default_end_ms: int) -> Alert:
    """Return ``alert`` as received at ``now``: started by then, with an end."""
    return replace(
        alert,
        updated_at_ms=now,
        starts_at_ms=alert.starts_at_ms or now,
        ends_at_ms=default_end_ms if alert.ends_at_ms is None else alert.ends_at_ms,
    )


def _row_of(fp: str, alert: Alert) -> dict[str, Any]:
    return {
        "fingerprint": fp,
        "labels": dict(alert.labels),
        "annotations": dict(alert.annotations),
        "starts_at": utc_datetime(alert.starts_at_ms / 1000),
        "ends_at": _dt(alert.ends_at_ms),
        "generator_url": alert.generator_url,
        "source": alert.source.value,
        "updated_at": utc_datetime(alert.updated_at_ms / 1000),
    }


def _alert_of(row: AlertRow) -> Alert:
    return Alert(
        labels=Labels.of(row.labels),
        annotations=dict(row.annotations),
        starts_at_ms=_ms(row.starts_at),
        ends_at_ms=_ms(row.ends_at) if row.ends_at is not None else None,
        generator_url=row.generator_url,
        source=Source(row.source),
        updated_at_ms=_ms(row.updated_at),
    )


def _group_row(group: GroupState) -> dict[str, Any]:
    return {
        "key": group.key,
        "route_id": group.route_id,
        "labels": group.labels,
        "notified": group.notified,
        "sequence": group.sequence,
        "next_flush_at": _dt(group.next_flush_ms),
        "last_flush_at": _dt(group.last_flush_ms),
        "created_at": utc_datetime(group.created_ms / 1000),
    }


def _group_of(row: AlertGroupRow) -> GroupState:
    return GroupState(
        key=row.key,
        route_id=row.route_id,
        labels=dict(row.labels),
        notified=dict(row.notified),
        sequence=row.sequence,
        next_flush_ms=_ms(row.next_flush_at) if row.next_flush_at else None,
        last_flush_ms=_ms(row.last_flush_at) if row.last_flush_at else None,
        created_ms=_ms(row.created_at),
    )
