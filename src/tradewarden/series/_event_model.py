"""The control side's current values, pure: what the trading state, the shared breakers and
the heartbeat pings are now, changed by observations, read as metric families (what
``/metrics`` shows and ``series._events`` writes into the store). See ``series._events``
for the series and their meaning.

Observations may come from any thread: the model takes a lock.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Final, Literal, get_args

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from tradewarden.control import BreakerView
from tradewarden.guard.breaker import BreakerState
from tradewarden.guard.state import TradingState
from tradewarden.probes import Beat, PingKind
from tradewarden.series._labels import METRIC_NAME, Labels

__all__ = [
    "GROUPS",
    "METRIC_NAMES",
    "EventModel",
    "EventSeriesCollector",
    "Group",
    "described",
    "samples_of",
]


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
Group = Literal["trading", "breakers", "heartbeats"]
GROUPS: Final[tuple[Group, ...]] = get_args(Group)
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
        self._versions: dict[str, int] = {}
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

    def breakers_listed(self, views: Iterable[BreakerView], *, checked: bool = False) -> bool:
        """Take the complete list of breakers: the ones missing are gone.

        ``checked``: the listing overlapped another update, so a breaker's view older
        (by ``version``) than the one held is ignored; unchecked, the listing is the truth
        (a hash deleted and written anew starts its versions again).
        """
        views = list(views)
        with self._lock:
            first = self._untracked is None
            names = {view.name for view in views}
            changed = False
            for name in [n for n in self._breakers if n not in names]:
                self._forget_breaker(name)
                changed = True
            untracked = 0
            for view in sorted(views, key=lambda v: v.name):
                if not self._set_breaker(view, count_new=not first, checked=checked):
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

    def breaker_seen(self, view: BreakerView, *, checked: bool = True) -> bool:
        """Take one breaker's state (an operator's action, an announcement); ``checked``:
        ignore it if older than the one held (see :meth:`breakers_listed`)."""
        with self._lock:
            return self._set_breaker(view, count_new=self._untracked is not None, checked=checked)

    def breaker_gone(self, name: str) -> bool:
        """Forget a breaker whose hash is gone."""
        with self._lock:
            if name not in self._breakers:
                return False
            self._forget_breaker(name)
            return True

    def _forget_breaker(self, name: str) -> None:
        del self._breakers[name], self._openings[name], self._versions[name]

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

    def _set_breaker(self, view: BreakerView, *, count_new: bool, checked: bool) -> bool:
        """Set a breaker (caller holds the lock); False when it has no series of its own."""
        name, state = view.name, _breaker_state(view)
        if name not in self._breakers:
            if len(self._breakers) >= self.max_breakers or not _SAFE_NAME.fullmatch(name):
                return False
            self._breakers[name] = None
            self._openings[name] = 1 if count_new and state in _OPEN else 0
        elif checked and view.version < self._versions[name]:
            return True  # older news than what is held
        elif state in _OPEN and self._breakers[name] not in _OPEN:
            self._openings[name] += 1
        self._breakers[name] = state
        self._versions[name] = view.version
        return True

    # -- the one read ---------------------------------------------------------------------

    def families(self, groups: Iterable[Group] = GROUPS) -> list[Metric]:
        """Return the current values as metric families (all of them: what ``/metrics``
        shows), or only those of ``groups``."""
        wanted = set(groups)
        with self._lock:
            families: list[Metric] = []
            if "trading" in wanted and self._trading is not None:
                trading = _family(TRADING_STATE)
                for state in TradingState:
                    trading.add_metric([state.name], 1.0 if state is self._trading else 0.0)
                changes = _family(TRADING_CHANGES)
                for action in _ACTIONS:
                    changes.add_metric([action], self._changes[action])
                families += [trading, changes]
            if "breakers" in wanted and (self._readable is not None or self._breakers):
                families += self._breaker_families()
            if "heartbeats" in wanted and self._pings:
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

    def heartbeat_families(self, name: str) -> list[Metric]:
        """Return the families holding only heartbeat ``name``'s samples."""
        with self._lock:
            return self._heartbeat_families((name,) if name in self._pings else ())

    def _heartbeat_families(self, names: Iterable[str] | None = None) -> list[Metric]:
        last, pings = _family(HEARTBEAT_LAST_PING), _family(HEARTBEAT_PINGS)
        for name in sorted(self._pings) if names is None else names:
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
