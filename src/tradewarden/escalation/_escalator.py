"""The escalation runtime: open, fire due steps, acknowledge, resolve; state in the store.

Every step is decided by ``next_action`` on the stored state and written by a
conditional UPDATE (``EscalationRepository.advance``) in the same transaction as the
step's notifications (``enqueue(..., session=...)``): either both are stored or neither.
A process killed before the commit leaves the step due, and the next firing enqueues the
same outbox keys (a stable sequence per step), so nobody is paged twice. Two instances
firing the same step: the second UPDATE finds the state changed and rolls back. An
acknowledgement or a resolve changes the status, and no step fires after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from prometheus_client import CollectorRegistry
from sqlalchemy import event
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from tradewarden.clock import Clock, utc_datetime
from tradewarden.errors import ConflictError, NotFoundError, TradewardenError
from tradewarden.escalation._config import (
    ANY_SCHEDULE,
    PersonConfig,
    PolicyConfig,
    ScheduleConfig,
    StepConfig,
)
from tradewarden.escalation._links import AckLinks
from tradewarden.escalation._metrics import EscalationMetrics
from tradewarden.escalation._policy import (
    Done,
    EscalationState,
    EscalationStatus,
    Fire,
    initial_state,
    next_action,
    notification_sequence,
    policy_for,
)
from tradewarden.escalation._schedule import Override, who_is_on_call
from tradewarden.notify import Message, MessageStatus, Severity
from tradewarden.store import (
    Database,
    Escalation,
    EscalationRepository,
    OnCallOverride,
    OverrideRepository,
)
from tradewarden.telemetry import get_logger

__all__ = ["EnqueuePort", "EscalationObserver", "Escalator", "OverrideError"]

_log = get_logger("tradewarden.escalation")
KEY_MAX = 400  # the column's width
OPEN, EXHAUSTED = EscalationStatus.OPEN.value, EscalationStatus.EXHAUSTED.value
ACKNOWLEDGED, RESOLVED = EscalationStatus.ACKNOWLEDGED.value, EscalationStatus.RESOLVED.value


class EnqueuePort(Protocol):
    """``Notifier.enqueue``: store a message for channels, in the caller's session."""

    async def __call__(
        self,
        message: Message,
        channels: Sequence[str],
        *,
        session: AsyncSession | None = None,
        sequence: int = 0,
    ) -> dict[str, int]: ...


class EscalationObserver(Protocol):
    """Told in the escalation's transaction of an acknowledgement and of a step that paged
    (incidents listen here); raising rolls the change back."""

    async def on_acknowledged(
        self, key: str, *, by: str, reason: str | None, session: AsyncSession
    ) -> None: ...

    async def on_step_fired(
        self, key: str, *, step: int, round_: int, channels: Sequence[str], session: AsyncSession
    ) -> None: ...


class OverrideError(TradewardenError):
    """An override names something the schedules do not have, or ends before it starts."""

    permanent = True


class _LostError(Exception):
    """Another instance or an acknowledgement changed the escalation first: roll back."""


@dataclass(frozen=True)
class _Directory:
    people: dict[str, PersonConfig]
    schedules: dict[str, ScheduleConfig]


class Escalator:
    """Escalate alerts by their key (the dispatcher's group key or fingerprint)."""

    def __init__(
        self,
        database: Database,
        clock: Clock,
        enqueue: EnqueuePort,
        *,
        people: Iterable[PersonConfig] = (),
        schedules: Iterable[ScheduleConfig] = (),
        policies: Iterable[PolicyConfig] = (),
        channels: Iterable[str] = (),
        links: AckLinks | None = None,
        poll_interval_s: float = 5.0,
        batch: int = 100,
        registry: CollectorRegistry | None = None,
        observers: Iterable[EscalationObserver] = (),
    ) -> None:
        self.database = database
        self.observers: list[EscalationObserver] = list(observers)
        self.clock = clock
        self._enqueue = enqueue
        self._directory = _Directory(
            people={p.name: p for p in people}, schedules={s.name: s for s in schedules}
        )
        self._channels = frozenset(channels)
        self.policies = tuple(policies)
        self.metrics = EscalationMetrics(registry)
        for policy in self.policies:  # their series from 0, so rate() sees the first
            self.metrics.steps.labels(policy.name)
            self.metrics.acknowledgements.labels(policy.name)
        self.links = links
        self.poll_interval_s = poll_interval_s
        self.batch = batch
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # -- the dispatcher's side -------------------------------------------------------

    def ack_url_for(self, key: str) -> str | None:
        """Return a signed acknowledgement link for ``key`` (None without links)."""
        return None if self.links is None else self.links.url(key, now=self.clock.now())

    def policy_for(self, severity: Severity) -> PolicyConfig:
        """Return the policy ``severity`` escalates by: the configured default for it, else
        the seeds' (``default_policy``)."""
        return policy_for(severity, self.policies)

    async def escalate(
        self, key: str, message: Message, *, session: AsyncSession | None = None
    ) -> Escalation:
        """``open`` with the policy of the message's severity."""
        return await self.open(key, message, self.policy_for(message.severity), session=session)

    async def open(
        self,
        key: str,
        message: Message,
        policy: PolicyConfig,
        *,
        session: AsyncSession | None = None,
    ) -> Escalation:
        """Start escalating ``key`` by ``policy`` (its first step is due at once).

        An escalation of ``key`` that is open, exhausted or acknowledged is returned as it
        is (an acknowledgement holds until the alert resolves); a resolved one starts
        again as a new generation.
        """
        if not 0 < len(key) <= KEY_MAX:
            raise ValueError(f"an escalation key has 1 to {KEY_MAX} characters, not {len(key)}")
        now = self.clock.now()
        state = initial_state(policy, now)
        values = {
            "policy_name": policy.name,
            "policy": policy.model_dump(mode="json"),
            "message": message.model_dump(mode="json"),
            "status": state.status.value,
            "step": 0,
            "round": 0,
            "fired": 0,
            "due_at": None if state.due_at is None else utc_datetime(state.due_at),
            "notified": [],
            "opened_at": utc_datetime(now),
            "updated_at": utc_datetime(now),
            "last_fired_at": None,
            "acknowledged_at": None,
            "acknowledged_by": None,
            "ack_reason": None,
            "resolved_at": None,
        }
        async with self._session(session) as own:
            repo = EscalationRepository(own)
            row = await repo.get(key, for_update=True)
            if row is None:
                await repo.insert_if_new({"key": key, "generation": 0, **values})
            elif row.status == RESOLVED:
                await repo.set_status(
                    key,
                    from_statuses=[RESOLVED],
                    read_generation=row.generation,
                    **{**values, "generation": row.generation + 1},
                )
            opened = await self._get(repo, key)
            if session is not None:
                self._wake_after_commit(session)
        if session is None:
            self.wake()
        return opened

    async def acknowledge(
        self, key: str, *, by: str, reason: str | None, session: AsyncSession | None = None
    ) -> tuple[Escalation, bool]:
        """Stop escalating ``key``; return the row and whether this call changed it.

        The channels already paged get the acknowledgement (PagerDuty acknowledges its
        incident). NotFoundError when ``key`` has no escalation, ConflictError when it is
        resolved.
        """
        now = self.clock.now()
        async with self._session(session) as own:
            repo = EscalationRepository(own)
            row = await repo.get(key, for_update=True)
            if row is None:
                raise NotFoundError(f"no escalation for alert {key!r}")
            if row.status == ACKNOWLEDGED:
                return row, False
            if row.status == RESOLVED:
                raise ConflictError(f"alert {key!r} is resolved: nothing to acknowledge")
            changed = await repo.set_status(
                key,
                from_statuses=[OPEN, EXHAUSTED],
                read_generation=row.generation,
                status=ACKNOWLEDGED,
                due_at=None,
                acknowledged_at=utc_datetime(now),
                acknowledged_by=by[:200],
                ack_reason=reason,
                updated_at=utc_datetime(now),
            )
            if changed:
                self.metrics.acknowledgements.labels(row.policy_name).inc()
                for observer in self.observers:
                    await observer.on_acknowledged(key, by=by, reason=reason, session=own)
            if changed and row.notified:
                notice = Message.model_validate(row.message).model_copy(
                    update={"status": MessageStatus.ACKNOWLEDGED, "ack_url": None}
                )
                await self._enqueue(
                    notice,
                    self._known(row.notified),
                    session=own,
                    sequence=notification_sequence(row.generation, 0),
                )
            return await self._get(repo, key), changed

    async def resolve(self, key: str, *, session: AsyncSession | None = None) -> bool:
        """Stop escalating ``key`` for good (the alert resolved); return whether it was
        escalating or acknowledged."""
        now = utc_datetime(self.clock.now())
        async with self._session(session) as own:
            repo = EscalationRepository(own)
            row = await repo.get(key, for_update=True)
            if row is None or row.status == RESOLVED:
                return False
            return await repo.set_status(
                key,
                from_statuses=[OPEN, EXHAUSTED, ACKNOWLEDGED],
                read_generation=row.generation,
                status=RESOLVED,
                due_at=None,
                resolved_at=now,
                updated_at=now,
            )

    # -- firing ----------------------------------------------------------------------

    async def run_due(self) -> int:
        """Fire every step due now; return how many fired."""
        now = self.clock.now()
        async with self.database.read_session() as session:
            due = [
                (row.key, row.policy_name)
                for row in await EscalationRepository(session).due(utc_datetime(now), self.batch)
            ]
        fired = 0
        for key, policy in due:
            try:
                if await self._fire(key, now):
                    fired += 1
                    self.metrics.steps.labels(policy).inc()  # committed
            except _LostError:
                continue
            except (SQLAlchemyError, OSError, TradewardenError, ValueError) as exc:
                self.metrics.failures.labels(policy).inc()
                # Rolled back: the step stays due and is tried again; the others go on.
                _log.warning(
                    "an escalation step could not be fired",
                    key=key,
                    error=f"{type(exc).__name__}: {str(exc)[:200]}",
                )
        return fired

    async def _fire(self, key: str, now: float) -> bool:
        async with self.database.session() as session:
            repo = EscalationRepository(session)
            row = await repo.get(key)
            if row is None or row.status != OPEN or row.due_at is None:
                return False
            policy = PolicyConfig.model_validate(row.policy)
            state = EscalationState(
                step=row.step,
                round=row.round,
                due_at=row.due_at.timestamp(),
                fired=row.fired,
            )
            action = next_action(policy, state, now)
            if isinstance(action, Done):
                await repo.advance(row, status=action.status.value, due_at=None)
                return False
            if not isinstance(action, Fire):
                return False
            channels = self._known(await self._targets(session, action.step, now))
            after = action.state
            won = await repo.advance(
                row,
                step=after.step,
                round=after.round,
                fired=after.fired,
                status=after.status.value,
                due_at=None if after.due_at is None else utc_datetime(after.due_at),
                notified=list(dict.fromkeys([*row.notified, *channels])),
                last_fired_at=utc_datetime(now),
                updated_at=utc_datetime(now),
            )
            if not won:
                raise _LostError
            if channels:
                message = Message.model_validate(row.message)
                if self.links is not None:
                    message = message.model_copy(update={"ack_url": self.ack_url_for(key)})
                await self._enqueue(
                    message,
                    channels,
                    session=session,
                    sequence=notification_sequence(row.generation, action.sequence),
                )
            for observer in self.observers:  # a step that paged nobody is news too
                await observer.on_step_fired(
                    key, step=row.step + 1, round_=row.round + 1, channels=channels, session=session
                )
            _log.info(
                "escalation step fired",
                key=key,
                policy=row.policy_name,
                step=row.step + 1,
                round=row.round + 1,
                channels=channels,
            )
            return True

    @staticmethod
    async def _get(repo: EscalationRepository, key: str) -> Escalation:
        row = await repo.get(key)
        if row is None:  # pragma: no cover - the row was read or written in this transaction
            raise NotFoundError(f"no escalation for alert {key!r}")
        return row

    async def _targets(self, session: AsyncSession, step: StepConfig, now: float) -> list[str]:
        """Return the channels of a step: its own, its people's and those on call."""
        people = self._directory.people
        names = list(step.people)
        targets = step.on_call_targets()
        if targets:
            overrides = await self.overrides(session, now)
            at = utc_datetime(now)
            for target in targets:
                if target.schedule == ANY_SCHEDULE:
                    schedules = list(self._directory.schedules.values())
                else:
                    found = self._directory.schedules.get(target.schedule)
                    schedules = [found] if found is not None else []
                for schedule in schedules:
                    person = who_is_on_call(schedule, target.layer, at, overrides)
                    if person is not None:
                        names.append(person)
        channels = list(step.channels)
        for name in dict.fromkeys(names):
            person_config = people.get(name)
            if person_config is None:
                _log.warning("escalation target is not in people:", person=name)
                continue
            channels.extend(person_config.channels)
        return list(dict.fromkeys(channels))

    def _known(self, channels: Iterable[str]) -> list[str]:
        known: list[str] = []
        unknown: list[str] = []
        for channel in channels:
            (known if not self._channels or channel in self._channels else unknown).append(channel)
        if unknown:
            _log.warning("escalation channels no longer configured", channels=unknown)
        return known

    # -- on call ---------------------------------------------------------------------

    async def overrides(self, session: AsyncSession, now: float) -> list[Override]:
        """Return the overrides not yet over at ``now``, oldest first."""
        rows = await OverrideRepository(session).active(utc_datetime(now))
        return [_override(row) for row in rows]

    async def who_is_on_call(
        self, schedule: str, layer: str, at: dt.datetime | None = None
    ) -> str | None:
        """Return who is on call now (or ``at``), overrides included; NotFoundError for a
        schedule that is not configured."""
        config = self._directory.schedules.get(schedule)
        if config is None:
            raise NotFoundError(f"no schedule {schedule!r}")
        moment = at or utc_datetime(self.clock.now())
        async with self.database.read_session() as session:
            rows = await OverrideRepository(session).active(moment, schedule)
        return who_is_on_call(config, layer, moment, [_override(row) for row in rows])

    @property
    def schedules(self) -> dict[str, ScheduleConfig]:
        """The configured schedules by name."""
        return dict(self._directory.schedules)

    def check_override(
        self,
        *,
        schedule: str,
        layer: str | None,
        replaces: str,
        replacement: str,
        starts_at: dt.datetime,
        ends_at: dt.datetime,
    ) -> None:
        """Raise OverrideError naming the field that does not fit the schedules."""
        config = self._directory.schedules.get(schedule)
        if config is None:
            raise OverrideError(f"schedule: no schedule {schedule!r}")
        layers = config.layers if layer is None else [config.layer(layer)]
        if layers == [None]:
            raise OverrideError(f"layer: schedule {schedule!r} has no layer {layer!r}")
        if not any(replaces in found.members for found in layers if found is not None):
            raise OverrideError(f"replaces: {replaces!r} is not on the rotation of {schedule!r}")
        if replacement not in self._directory.people:
            raise OverrideError(f"replacement: {replacement!r} is not in people:")
        if ends_at <= starts_at:
            raise OverrideError("ends_at: an override must end after it starts")

    # -- the loop --------------------------------------------------------------------

    def start(self) -> None:
        """Fire due steps in the background until ``stop``."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="escalator")

    async def stop(self) -> None:
        """Stop the loop (a step being fired finishes or rolls back)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def wake(self) -> None:
        """Look for due steps now (an open, a moved clock)."""
        self._wake.set()

    async def _run(self) -> None:
        while True:
            wait_s = self.poll_interval_s
            try:
                if await self.run_due() > 0:
                    continue  # more may be due (a full batch, a step without a wait)
                async with self.database.read_session() as session:
                    due = await EscalationRepository(session).next_due()
                # A step still due now failed or is another instance's: look again at the
                # poll, not in a tight loop.
                remaining = None if due is None else due.timestamp() - self.clock.now()
                if remaining is not None and remaining > 0:
                    wait_s = min(wait_s, remaining)
            except (SQLAlchemyError, OSError, TradewardenError) as exc:
                _log.warning("escalations could not be fired", error=type(exc).__name__)
            await self._wait(wait_s)

    async def _wait(self, timeout_s: float) -> None:
        if timeout_s > 0 and not self._wake.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout_s):
                    await self._wake.wait()
        self._wake.clear()

    @contextlib.asynccontextmanager
    async def _session(self, given: AsyncSession | None) -> AsyncIterator[AsyncSession]:
        if given is not None:
            yield given
            return
        async with self.database.session() as own:
            yield own

    def _wake_after_commit(self, session: AsyncSession) -> None:
        loop = asyncio.get_running_loop()

        def _committed(_session: Any) -> None:
            loop.call_soon_threadsafe(self._wake.set)

        event.listen(session.sync_session, "after_commit", _committed, once=True)


def _override(row: OnCallOverride) -> Override:
    return Override(
        schedule=row.schedule,
        layer=row.layer,
        replaces=row.replaces,
        replacement=row.replacement,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
    )
