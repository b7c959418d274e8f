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
deleted, or a heartbeat that is removed, gets a stale marker.

The model is pure and read under a lock (``/metrics`` may be served from another thread);
the store is written on the event loop only: the back end's watch hops over with
``call_soon_threadsafe``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import threading
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import Final, TypeVar, get_args

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from tradewarden.clock import Clock
from tradewarden.control import (
    BreakerControl,
    BreakerView,
    Control,
    ControlError,
    StateOutcome,
)
from tradewarden.errors import NotFoundError
from tradewarden.guard.breaker import BreakerState
from tradewarden.guard.state import StateChange, TradingState
from tradewarden.probes import Beat, HeartbeatBoard, PingKind
from tradewarden.series._labels import METRIC_NAME, Labels
from tradewarden.series._ports import STALE_NAN
from tradewarden.series._store import SeriesStore

__all__ = ["ControlSeries", "EventModel", "EventSeriesCollector"]

_log = logging.getLogger("tradewarden.series")
_T = TypeVar("_T")

TRADING_STATE: Final = "tradewarden_trading_state"
TRADING_CHANGES: Final = "tradewarden_trading_state_changes"
BREAKER_STATE: Final = "circuit_breaker_state"
BREAKER_OPENINGS: Final = "tradewarden_circuit_breaker_openings"
BREAKERS_UNTRACKED: Final = "tradewarden_circuit_breakers_untracked"
BREAKERS_READABLE: Final = "tradewarden_circuit_breakers_readable"
HEARTBEAT_LAST_PING: Final = "tradewarden_heartbeat_last_ping_timestamp_seconds"
HEARTBEAT_PINGS: Final = "tradewarden_heartbeat_pings"

# name: (a counter?, help, label names): what /metrics describes and the store holds.
_FAMILIES: Final[dict[str, tuple[bool, str, tuple[str, ...]]]] = {
    TRADING_STATE: (
        False,
        (
            "Trading state a bot on the warden's back end enforces: 1 for the state in effect "
            "(ACTIVE, REDUCING, HALTED), else 0."
        ),
        ("state",),
    ),
    TRADING_CHANGES: (
        True,
        "Changes of the trading state seen by this warden, by action.",
        ("action",),
    ),
    BREAKER_STATE: (
        False,
        (
            "Shared breaker state in Redis: CLOSED 0, HALF_OPEN 0.5, OPEN 1 (FORCED_OPEN 1, "
            "DISABLED 0)."
        ),
        ("name",),
    ),
    BREAKER_OPENINGS: (
        True,
        "Changes of a shared breaker to OPEN or FORCED_OPEN seen by this warden.",
        ("name",),
    ),
    BREAKERS_UNTRACKED: (
        False,
        (
            "Shared breakers without series of their own: past the cap, or a name that is not "
            "a safe label value."
        ),
        (),
    ),
    BREAKERS_READABLE: (
        False,
        (
            "1 if the last listing of the shared breakers in Redis worked, else 0 (their "
            "series keep the last states read)."
        ),
        (),
    ),
    HEARTBEAT_LAST_PING: (
        False,
        "When the heartbeat's last success or fail ping arrived (Unix time).",
        ("monitor",),
    ),
    HEARTBEAT_PINGS: (
        True,
        "Heartbeat pings received by this warden, by kind (success, fail, start).",
        ("monitor", "kind"),
    ),
}

#: Every sample name written (counters with their ``_total``): the self-scrape skips them.
METRIC_NAMES: Final = frozenset(
    f"{name}_total" if counter else name for name, (counter, _, _) in _FAMILIES.items()
)
_ACTIONS: Final = ("halt", "reduce", "resume")
_PING_KINDS: Final[tuple[PingKind, ...]] = get_args(PingKind)
_OPEN: Final = frozenset({BreakerState.OPEN, BreakerState.FORCED_OPEN})
# A label value of our own: what the guard's LabelCap accepts, up to 64 characters.
_SAFE_NAME: Final = re.compile(r"[A-Za-z0-9_.:\-/]{1,64}")


def _family(name: str) -> GaugeMetricFamily | CounterMetricFamily:
    counter, documentation, labels = _FAMILIES[name]
    kind = CounterMetricFamily if counter else GaugeMetricFamily
    return kind(name, documentation, labels=list(labels))


def described() -> list[Metric]:
    """Return every family, empty (what the registry learns the names from)."""
    return [_family(name) for name in _FAMILIES]


def _action(old: TradingState, new: TradingState) -> str:
    if new < old:
        return "resume"
    return "halt" if new is TradingState.HALTED else "reduce"


def _breaker_state(view: BreakerView) -> BreakerState | None:
    try:
        return BreakerState(view.state)
    except ValueError:
        return None  # UNKNOWN: the hash holds a state the guard does not know


class EventModel:
    """The current values, changed by observations; ``families()`` is the one read."""

    def __init__(self, *, max_breakers: int = 100, max_heartbeats: int = 1000) -> None:
        if max_breakers < 1 or max_heartbeats < 1:
            raise ValueError("max_breakers and max_heartbeats must be at least 1")
        self.max_breakers = max_breakers
        self.max_heartbeats = max_heartbeats
        self._lock = threading.Lock()
        self._trading: TradingState | None = None
        self._version = -1
        self._changes = dict.fromkeys(_ACTIONS, 0)
        self._breakers: dict[str, BreakerState | None] = {}
        self._openings: dict[str, int] = {}
        self._untracked: int | None = None  # None until the breakers were listed once
        self._readable: bool | None = None  # None until a listing was tried
        self._last_ping: dict[str, float | None] = {}
        self._pings: dict[str, dict[PingKind, int]] = {}

    # -- observations: each returns whether anything changed ---------------------------

    def trading_seen(self, state: TradingState, version: int) -> bool:
        """Take the state in effect at stored ``version``; an older version is ignored."""
        with self._lock:
            if version < self._version or state is self._trading:
                self._version = max(self._version, version)
                return False
            if self._trading is not None:
                self._changes[_action(self._trading, state)] += 1
            self._trading, self._version = state, version
            return True

    def breakers_listed(self, views: Iterable[BreakerView]) -> bool:
        """Take the complete list of breakers: the ones missing are gone."""
        views = list(views)
        with self._lock:
            first = self._untracked is None
            names = {view.name for view in views}
            changed = False
            for name in [n for n in self._breakers if n not in names]:
                del self._breakers[name], self._openings[name]
                changed = True
            untracked = 0
            for view in sorted(views, key=lambda v: v.name):
                if not self._set_breaker(view, count_new=not first):
                    untracked += 1
                    continue
                changed = True
            changed = changed or untracked != self._untracked or not self._readable
            self._untracked, self._readable = untracked, True
            return changed

    def breakers_unreadable(self) -> bool:
        """Note a listing that failed (the states read before stay)."""
        with self._lock:
            changed = self._readable is not False
            self._readable = False
            return changed

    def breaker_seen(self, view: BreakerView) -> bool:
        """Take one breaker's state (an operator's action, an announcement)."""
        with self._lock:
            return self._set_breaker(view, count_new=self._untracked is not None)

    def breaker_gone(self, name: str) -> bool:
        """Forget a breaker whose hash is gone."""
        with self._lock:
            if name not in self._breakers:
                return False
            del self._breakers[name], self._openings[name]
            return True

    def heartbeats_known(self, names: Iterable[str], beat: Callable[[str], Beat | None]) -> bool:
        """Take the heartbeats that exist now (the rest are gone) and their beats."""
        wanted = list(dict.fromkeys(names))
        with self._lock:
            kept = set(wanted)
            changed = False
            for name in [n for n in self._pings if n not in kept]:
                del self._pings[name], self._last_ping[name]
                changed = True
            for name in wanted:
                if name not in self._pings:
                    if len(self._pings) >= self.max_heartbeats:
                        continue
                    self._pings[name] = dict.fromkeys(_PING_KINDS, 0)
                    changed = True
                current = beat(name)
                last = current.last_ping_at if current is not None else None
                changed = changed or last != self._last_ping.get(name)
                self._last_ping[name] = last
            return changed

    def heartbeat_pinged(self, name: str, kind: PingKind, beat: Beat) -> bool:
        """Count one ping of ``name`` (a heartbeat past the cap is not shown)."""
        with self._lock:
            counts = self._pings.get(name)
            if counts is None:
                if len(self._pings) >= self.max_heartbeats:
                    return False
                counts = self._pings[name] = dict.fromkeys(_PING_KINDS, 0)
            counts[kind] += 1
            self._last_ping[name] = beat.last_ping_at
            return True

    def _set_breaker(self, view: BreakerView, *, count_new: bool) -> bool:
        """Set a breaker (caller holds the lock); False when it has no series of its own."""
        name, state = view.name, _breaker_state(view)
        if name not in self._breakers:
            if len(self._breakers) >= self.max_breakers or not _SAFE_NAME.fullmatch(name):
                return False
            self._breakers[name] = None
            self._openings[name] = 1 if count_new and state in _OPEN else 0
        elif state in _OPEN and self._breakers[name] not in _OPEN:
            self._openings[name] += 1
        self._breakers[name] = state
        return True

    # -- the one read ---------------------------------------------------------------------

    def families(self) -> list[Metric]:
        """Return the current values as metric families (what ``/metrics`` shows)."""
        with self._lock:
            families: list[Metric] = []
            if self._trading is not None:
                trading = _family(TRADING_STATE)
                for state in TradingState:
                    trading.add_metric([state.name], 1.0 if state is self._trading else 0.0)
                changes = _family(TRADING_CHANGES)
                for action in _ACTIONS:
                    changes.add_metric([action], self._changes[action])
                families += [trading, changes]
            if self._readable is not None or self._breakers:
                families += self._breaker_families()
            if self._pings:
                families += self._heartbeat_families()
            return families

    def _breaker_families(self) -> list[Metric]:
        state, openings = _family(BREAKER_STATE), _family(BREAKER_OPENINGS)
        for name in sorted(self._breakers):
            current = self._breakers[name]
            if current is not None:
                state.add_metric([name], current.gauge)
            openings.add_metric([name], self._openings[name])
        untracked = _family(BREAKERS_UNTRACKED)
        untracked.add_metric([], self._untracked or 0)
        readable = _family(BREAKERS_READABLE)
        readable.add_metric([], 0.0 if self._readable is False else 1.0)
        return [state, openings, untracked, readable]

    def _heartbeat_families(self) -> list[Metric]:
        last, pings = _family(HEARTBEAT_LAST_PING), _family(HEARTBEAT_PINGS)
        for name in sorted(self._pings):
            at = self._last_ping.get(name)
            if at is not None:
                last.add_metric([name], at)
            for kind in _PING_KINDS:
                pings.add_metric([name, kind], self._pings[name][kind])
        return [last, pings]


def samples_of(families: Iterable[Metric]) -> list[tuple[Labels, float]]:
    """Return the families' samples as the store keeps them."""
    return [
        (Labels.from_pairs([(METRIC_NAME, s.name), *s.labels.items()]), float(s.value))
        for family in families
        for s in family.samples
    ]


class EventSeriesCollector(Collector):
    """The model's families on a registry (the warden's ``/metrics``)."""

    def __init__(self, model: EventModel) -> None:
        self._model = model

    def describe(self) -> Iterator[Metric]:
        """Name every family (a clash with another collector fails at registration)."""
        return iter(described())

    def collect(self) -> Iterator[Metric]:
        """Yield the current values."""
        return iter(self._model.families())


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
        self._written: set[Labels] = set()
        self._last_ms = -(2**63)
        self._control: Control | None = None
        self._heartbeats: HeartbeatBoard | None = None
        self._heartbeat_names: Callable[[], Iterable[str]] = list
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._running = False
        self._failing: set[str] = set()
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
                views = await self._read("circuit breakers", control.breakers_or_none.all)
                if views is not None:
                    self.model.breakers_listed(views)
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
        try:
            view = await breakers.get(name)
        except NotFoundError:
            changed = self.model.breaker_gone(name)
        except ControlError:
            return  # the next refresh reads it
        else:
            changed = self.model.breaker_seen(view)
        if self._running:
            self._changed(changed)

    # -- listeners ------------------------------------------------------------------------

    def _outcome(self, outcome: StateOutcome) -> None:
        if self._running:
            self._changed(self.model.trading_seen(outcome.current.state, outcome.current.version))

    def _watched(self, state: TradingState, change: StateChange) -> None:
        """From the back end's thread: hop to the loop."""
        loop = self._loop
        if loop is None or not self._running:
            return
        with contextlib.suppress(RuntimeError):  # the loop is closed: the warden is stopping
            loop.call_soon_threadsafe(self._watched_here, state, change.version)

    def _watched_here(self, state: TradingState, version: int) -> None:
        if self._running:
            self._changed(self.model.trading_seen(state, version))

    def _breaker_acted(self, view: BreakerView) -> None:
        if self._running:
            self._changed(self.model.breaker_seen(view))

    def _pinged(self, name: str, kind: PingKind, beat: Beat) -> None:
        if self._running:
            self._changed(self.model.heartbeat_pinged(name, kind, beat))

    def _changed(self, changed: bool) -> None:
        if changed:
            self._write()

    # -- writing --------------------------------------------------------------------------

    def _write(self) -> None:
        """Append every current sample at one new timestamp; stale-mark the vanished."""
        t_ms = max(int(self._clock.now() * 1000), self._last_ms + 1)
        points = samples_of(self.model.families())
        current = {labels for labels, _ in points}
        with self._store.batch():
            for labels, value in points:
                self._store.append(labels, t_ms, value)
            for labels in self._written - current:
                self._store.append(labels, t_ms, STALE_NAN)
        self._written, self._last_ms = current, t_ms
