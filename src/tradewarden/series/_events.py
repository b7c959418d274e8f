"""What the warden's control side knows, as series: the trading state, the shared circuit
breakers and the heartbeat pings, written straight into the store (no scrape) and exposed
on ``/metrics`` under the very same names and labels.

    tradewarden_trading_state{state}                       1 for the state in effect, else 0
    tradewarden_trading_state_changes_total{action}        halt, reduce, resume seen here
    circuit_breaker_state{name}                            the guard's scale: CLOSED 0,
                                                           HALF_OPEN 0.5, OPEN 1
    tradewarden_circuit_breaker_openings_total{name}       changes to OPEN/FORCED_OPEN seen
    tradewarden_circuit_breakers_untracked                 breakers past the cap (not shown)
    tradewarden_circuit_breakers_readable                  1 if the last listing worked
    tradewarden_heartbeat_last_ping_timestamp_seconds{monitor}
    tradewarden_heartbeat_pings_total{monitor,kind}        success, fail, start

The trading state is the one a bot on the configured back end enforces (the warden's
watching ``KillSwitch``: a back end that cannot be read counts as HALTED); it changes on the
API's actions at once, and on another warden's or a bot's through the back end's watch.
``circuit_breaker_state`` is the shared state in Redis, the guard's name and scale, so a
rule works on the warden and on a bot alike. Breaker names come from Redis: only the first
``max_breakers`` (and only names that are safe label values) get series, the rest are
counted. Every series is written when it changes and again every ``interval_s``, so it
never goes stale under the 5 m lookback while nothing changes; a breaker whose hash is
deleted, or a heartbeat that is removed, gets a stale marker. A bot's breaker change is
read the moment it is announced on the breakers' channel; the interval's listing covers
what a lost subscription missed.

The model (``series._event_model``) is pure and read under a lock (``/metrics`` may be
served from another thread); the store is written on the event loop only: the back end's
watch hops over with ``call_soon_threadsafe``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

from prometheus_client import CollectorRegistry

from tradewarden.clock import Clock
from tradewarden.control import (
    BreakerControl,
    BreakerView,
    Control,
    ControlError,
    StateOutcome,
)
from tradewarden.errors import NotFoundError
from tradewarden.guard.state import StateChange, TradingState
from tradewarden.probes import Beat, HeartbeatBoard, PingKind
from tradewarden.series._event_model import (
    GROUPS,
    METRIC_NAMES,
    EventModel,
    EventSeriesCollector,
    Group,
    samples_of,
)
from tradewarden.series._labels import Labels
from tradewarden.series._ports import STALE_NAN
from tradewarden.series._store import SeriesStore

__all__ = ["METRIC_NAMES", "ControlSeries", "EventModel"]

_log = logging.getLogger("tradewarden.series")
_T = TypeVar("_T")


class ControlSeries:
    """Follow the control side and write its series into ``store``.

    Nothing happens until :meth:`start`; the collector is registered on ``registry`` at
    once (it shows nothing until then).
    """

    def __init__(
        self,
        store: SeriesStore,
        clock: Clock,
        *,
        registry: CollectorRegistry | None = None,
        interval_s: float = 5.0,
        max_breakers: int = 100,
        max_heartbeats: int = 1000,
    ) -> None:
        if interval_s <= 0:
            raise ValueError("interval_s must be positive")
        self.model = EventModel(max_breakers=max_breakers, max_heartbeats=max_heartbeats)
        self.interval_s = interval_s
        self._store = store
        self._clock = clock
        self._written: dict[Group, set[Labels]] = {group: set() for group in GROUPS}
        self._last_ms = -(2**63)
        self._control: Control | None = None
        self._heartbeats: HeartbeatBoard | None = None
        self._heartbeat_names: Callable[[], Iterable[str]] = list
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._running = False
        self._failing: set[str] = set()
        # Breaker updates applied so far: tells a read whether another landed during it.
        self._breaker_updates = 0
        if registry is not None:
            registry.register(EventSeriesCollector(self.model))

    def metric_names(self) -> frozenset[str]:
        """Every sample name written here (the self-scrape leaves them out)."""
        return METRIC_NAMES

    async def start(
        self,
        control: Control | None,
        heartbeats: HeartbeatBoard | None = None,
        heartbeat_names: Callable[[], Iterable[str]] | None = None,
    ) -> None:
        """Follow the changes, and read and write everything now and every interval.

        ``heartbeat_names`` returns the heartbeats that exist now (default: none but
        those that ping).
        """
        if self._running:
            return
        self._loop = asyncio.get_running_loop()
        self._control, self._heartbeats = control, heartbeats
        if heartbeat_names is not None:
            self._heartbeat_names = heartbeat_names
        self._running = True
        if control is not None:
            control.trading.add_listener(self._outcome)
            if control.watcher is not None:
                control.watcher.add_listener(self._watched)
            if control.breakers_or_none is not None:
                control.breakers_or_none.add_listener(self._breaker_acted)
        if heartbeats is not None:
            heartbeats.add_listener(self._pinged)
        # The first read in the task: a Redis that does not answer must not hold up the start.
        self._tasks.append(asyncio.create_task(self._refreshing(), name="control series"))
        if control is not None and control.breakers_or_none is not None:
            following = self._following(control.breakers_or_none)
            self._tasks.append(asyncio.create_task(following, name="control series breakers"))

    async def stop(self) -> None:
        """Stop refreshing and writing (the listeners stay attached and do nothing)."""
        self._running = False
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def refresh(self) -> None:
        """Read what is not followed by a watch (breakers, heartbeats), then write it all."""
        control = self._control
        if control is not None:
            watcher = control.watcher
            if watcher is not None:
                self.model.trading_seen(watcher.state, watcher.current.version)
            else:  # no watch in this process: read the back end
                current = await self._read("trading state", control.trading.current)
                if current is not None:
                    self.model.trading_seen(current.state, current.version)
            if control.breakers_or_none is not None:
                seen = self._breaker_updates
                views = await self._read("circuit breakers", control.breakers_or_none.all)
                if views is not None:
                    checked = seen != self._breaker_updates  # an update came in meanwhile
                    self.model.breakers_listed(views, checked=checked)
                    self._breaker_updates += 1
                else:
                    self.model.breakers_unreadable()
        board = self._heartbeats
        if board is not None:
            self.model.heartbeats_known(self._heartbeat_names(), board.get)
        self._write()

    async def _read(self, what: str, read: Callable[[], Awaitable[_T]]) -> _T | None:
        try:
            value = await read()
        except ControlError as exc:
            if what not in self._failing:
                self._failing.add(what)
                _log.warning("control series: %s not read: %s", what, exc)
            return None
        self._failing.discard(what)
        return value

    async def _refreshing(self) -> None:
        while True:
            try:
                await self.refresh()
            except Exception:  # noqa: BLE001 -- the next refresh tries again
                _log.exception("control series: refresh failed; trying again")
            await asyncio.sleep(self.interval_s)

    async def _following(self, breakers: BreakerControl) -> None:
        """Read each breaker the bots announce as changed, at once; the refresh covers
        what was missed while not subscribed."""
        while True:
            try:
                async for name in breakers.announced():
                    self._failing.discard("breaker announcements")
                    await self._announced(breakers, name)
            except ControlError as exc:
                if "breaker announcements" not in self._failing:
                    self._failing.add("breaker announcements")
                    _log.warning("control series: breaker announcements not heard: %s", exc)
            await asyncio.sleep(self.interval_s)

    async def _announced(self, breakers: BreakerControl, name: str) -> None:
        """Read the breaker now; a read that overlapped another update is version-checked
        (an operator's action may have landed after this read)."""
        seen = self._breaker_updates
        try:
            view = await breakers.get(name)
        except NotFoundError:
            changed = seen == self._breaker_updates and self.model.breaker_gone(name)
        except ControlError:
            return  # the next refresh reads it
        else:
            changed = self.model.breaker_seen(view, checked=seen != self._breaker_updates)
        self._breaker_updates += 1
        if self._running:
            self._changed(changed, "breakers")

    # -- listeners ------------------------------------------------------------------------

    def _outcome(self, outcome: StateOutcome) -> None:
        if self._running:
            current = outcome.current
            self._changed(self.model.trading_seen(current.state, current.version), "trading")

    def _watched(self, state: TradingState, change: StateChange) -> None:
        """From the back end's thread: hop to the loop."""
        loop = self._loop
        if loop is None or not self._running:
            return
        with contextlib.suppress(RuntimeError):  # the loop is closed: the warden is stopping
            loop.call_soon_threadsafe(self._watched_here, state, change.version)

    def _watched_here(self, state: TradingState, version: int) -> None:
        if self._running:
            self._changed(self.model.trading_seen(state, version), "trading")

    def _breaker_acted(self, view: BreakerView) -> None:
        self._breaker_updates += 1
        if self._running:
            self._changed(self.model.breaker_seen(view), "breakers")

    def _pinged(self, name: str, kind: PingKind, beat: Beat) -> None:
        if self._running and self.model.heartbeat_pinged(name, kind, beat):
            self._write_monitor(name)

    def _changed(self, changed: bool, group: Group) -> None:
        if changed:
            self._write((group,))

    # -- writing --------------------------------------------------------------------------

    def _now_ms(self) -> int:
        """A new timestamp, later than every one written (a sample as old is dropped)."""
        self._last_ms = max(int(self._clock.now() * 1000), self._last_ms + 1)
        return self._last_ms

    def _write(self, groups: Iterable[Group] = GROUPS) -> None:
        """Append the groups' current samples at one new timestamp; stale-mark the vanished."""
        t_ms = self._now_ms()
        with self._store.batch():
            for group in groups:
                points = samples_of(self.model.families((group,)))
                current = {labels for labels, _ in points}
                self._from_zero(points, self._written[group], t_ms)
                for labels, value in points:
                    self._store.append(labels, t_ms, value)
                for labels in self._written[group] - current:
                    self._store.append(labels, t_ms, STALE_NAN)
                self._written[group] = current

    def _from_zero(
        self, points: list[tuple[Labels, float]], written: set[Labels], t_ms: int
    ) -> None:
        """Start a new counter series that is already above 0 with a 0 just before, so
        ``increase()`` counts its first event (a breaker first seen open)."""
        for labels, value in points:
            if value > 0 and labels not in written and labels.metric_name.endswith("_total"):
                self._store.append(labels, t_ms - 1, 0.0)

    def _write_monitor(self, name: str) -> None:
        """Append one heartbeat's samples (a ping): not every heartbeat's at each ping."""
        t_ms = self._now_ms()
        points = samples_of(self.model.heartbeat_families(name))
        with self._store.batch():
            self._from_zero(points, self._written["heartbeats"], t_ms)
            for labels, value in points:
                self._store.append(labels, t_ms, value)
        self._written["heartbeats"].update(labels for labels, _ in points)
