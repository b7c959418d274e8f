"""The latched kill switch: the trading state, stored before it takes effect.

The hot path is two plain attributes, ``state`` and ``active``, which the back end's
watch keeps current: a bot checks ``if kill_switch.active`` before every order for the
price of an attribute read (about 20 ns; no lock, no I/O, no property).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from enum import StrEnum

from tradewarden.clock import Clock, SystemClock
from tradewarden.guard.state import (
    INITIAL_STATE,
    StateBackend,
    StateChange,
    StateError,
    StateUnavailableError,
    Subscription,
    TradingState,
    VersionConflictError,
)
from tradewarden.guard.trading._orders import OrderDecision, OrderSide, check_order

__all__ = ["KillSwitch", "StateListener", "UnreadablePolicy"]

_log = logging.getLogger("tradewarden.guard.trading")
_MAX_CONFLICTS = 20

StateListener = Callable[[TradingState, StateChange], None]
"""Called with the effective state and the newest stored change after every change."""


class UnreadablePolicy(StrEnum):
    """What the guard does while the stored state cannot be read.

    FAIL_CLOSED (the default): HALTED. KEEP_LAST_KNOWN: the last state read (HALTED if none
    was ever read). FAIL_OPEN: the last state read (ACTIVE if none was ever read); a HALTED
    that was read stays HALTED, because only an explicit resume un-halts.
    """

    FAIL_CLOSED = "fail_closed"
    KEEP_LAST_KNOWN = "keep_last_known"
    FAIL_OPEN = "fail_open"


class KillSwitch:
    """The trading state of one bot process, shared through a ``StateBackend``.

    ``halt`` and ``reduce`` only tighten (a REDUCING never loosens a HALTED); ``resume`` is
    the one way back to ACTIVE. Every change is written to the back end first and takes
    effect only once stored; other processes learn it through the back end's watch.
    ``state``, ``active`` and ``unreadable`` are read-only attributes.
    """

    state: TradingState
    active: bool
    unreadable: bool

    def __init__(
        self,
        backend: StateBackend,
        *,
        clock: Clock | None = None,
        on_unreadable: UnreadablePolicy = UnreadablePolicy.FAIL_CLOSED,
        watch: bool = True,
    ) -> None:
        self._backend = backend
        self._clock = clock or SystemClock()
        self._policy = on_unreadable
        self._lock = threading.RLock()
        # One decide-and-write at a time: a resume must not slip between the watch's
        # decision to store an unstored halt and its write, or the halt lands after it.
        self._changing = threading.RLock()
        self._listeners: list[StateListener] = []
        self._known: StateChange | None = None
        # The strictest tightening this process applied but could not store yet.
        self._unstored: StateChange | None = None
        self.state = TradingState.HALTED
        self.active = False
        self.unreadable = False
        self.last_error: str | None = None
        # Watch first: a change stored between the load and the watch is not missed.
        self._subscription: Subscription | None = backend.watch(self) if watch else None
        try:
            self._adopt(backend.load() or INITIAL_STATE)
        except StateUnavailableError as exc:
            self.state_unavailable(exc)

    @property
    def current(self) -> StateChange:
        """Return the newest stored change known here (version 0 if none is known)."""
        return self._known or INITIAL_STATE

    @property
    def policy(self) -> UnreadablePolicy:
        """Return what happens while the state cannot be read."""
        return self._policy

    def add_listener(self, listener: StateListener) -> None:
        """Call ``listener`` after every change of the effective state (any thread)."""
        self._listeners.append(listener)

    def check_order(
        self,
        side: OrderSide,
        notional: float,
        position: float,
        *,
        max_notional: float | None = None,
        submits_in_window: int = 0,
        max_submits: int | None = None,
    ) -> OrderDecision:
        """Decide an order against the current state (see ``check_order``)."""
        return check_order(
            side,
            notional,
            position,
            state=self.state,
            max_notional=max_notional,
            submits_in_window=submits_in_window,
            max_submits=max_submits,
        )

    def halt(self, actor: str, reason: str, message: str = "") -> StateChange:
        """Stop new orders everywhere; return the stored change (or the current one).

        If the back end cannot store the halt, this process halts anyway (tightening is
        always safe), the halt is written when the back end comes back, and
        ``StateUnavailableError`` is raised so the caller knows it is not yet shared.
        """
        return self._change(TradingState.HALTED, actor, reason, message, tighten=True)

    def reduce(self, actor: str, reason: str, message: str = "") -> StateChange:
        """Allow only orders that reduce exposure, unless already stricter (as ``halt``
        when the back end cannot store it)."""
        return self._change(TradingState.REDUCING, actor, reason, message, tighten=True)

    def resume(
        self,
        actor: str,
        reason: str,
        message: str = "",
        *,
        to: TradingState = TradingState.ACTIVE,
    ) -> StateChange:
        """Loosen the state (to ACTIVE, or from HALTED to REDUCING): the explicit action.

        It takes effect only once stored; it also drops a tightening this process applied
        but could not store.
        """
        return self._change(to, actor, reason, message, tighten=False)

    def refresh(self) -> StateChange:
        """Read the back end now (for bots that run without a watch); return the change."""
        try:
            loaded = self._backend.load() or INITIAL_STATE
        except StateUnavailableError as exc:
            self.state_unavailable(exc)
            raise
        self.state_changed(loaded)
        return self.current

    def close(self) -> None:
        """Stop watching the back end (the back end itself is closed by its owner)."""
        if self._subscription is not None:
            self._subscription.close()
            self._subscription = None

    # StateWatcher: called by the back end, from its thread.

    def state_changed(self, change: StateChange) -> None:
        """Adopt a stored change; after an outage, store what could not be stored."""
        self._adopt(change)
        # A change under way here settles the unstored one; the next notification retries.
        if not self._changing.acquire(blocking=False):
            return
        try:
            with self._lock:
                pending = self._unstored if not self.unreadable else None
            if pending is not None:
                try:
                    self._change(
                        pending.state, pending.actor, pending.reason, pending.message, tighten=True
                    )
                except StateError as exc:
                    _log.warning("kill switch: %s still not stored: %s", pending.state.name, exc)
        finally:
            self._changing.release()

    def state_unavailable(self, error: Exception) -> None:
        """Apply the unreadable policy and say so loudly."""
        with self._lock:
            first = not self.unreadable
            self.unreadable = True
            self.last_error = str(error)
            effective = self._effective()
            changed = self._set_effective(effective)
        if first:
            _log.warning(
                "kill switch: trading state cannot be read (%s); policy %s: trading %s",
                error,
                self._policy.value,
                effective.name,
            )
        if changed:
            self._notify()

    def _change(
        self, target: TradingState, actor: str, reason: str, message: str, *, tighten: bool
    ) -> StateChange:
        with self._changing:
            return self._decide_and_write(target, actor, reason, message, tighten=tighten)

    def _decide_and_write(
        self, target: TradingState, actor: str, reason: str, message: str, *, tighten: bool
    ) -> StateChange:
        fresh = False
        for _ in range(_MAX_CONFLICTS):
            base = self.current
            if (base.state >= target if tighten else base.state == target) and (
                not self.unreadable
            ):
                if fresh:
                    self._settle_unstored(base.state, loosened=not tighten)
                    return base
                # Nothing to do by what this process has heard; make sure by reading.
                self._reload()
                fresh = True
                continue
            if not tighten and base.state < target and not self.unreadable:
                raise ValueError(f"resume cannot tighten {base.state.name} to {target.name}")
            change = StateChange(
                base.version + 1, target, actor, reason, message, self._clock.now()
            )
            try:
                self._backend.write(change, expected_version=base.version)
            except VersionConflictError:
                self._reload()
                fresh = True
                continue
            except StateUnavailableError as exc:
                if tighten:
                    self._tighten_unstored(change, exc)
                raise
            _log.warning(
                "kill switch: %s by %s (%s) at version %d",
                target.name,
                actor,
                reason,
                change.version,
            )
            self._settle_unstored(target, loosened=not tighten)
            self._adopt(change)
            return change
        raise StateError(f"trading state kept changing under {_MAX_CONFLICTS} attempts")

    def _settle_unstored(self, stored: TradingState, *, loosened: bool) -> None:
        """Drop the unstored tightening once ``stored`` covers it, or a resume was stored."""
        with self._lock:
            unstored = self._unstored
            if unstored is None or not (loosened or unstored.state <= stored):
                return
            self._unstored = None
            changed = self._set_effective(self._effective())
        if changed:
            self._notify()

    def _reload(self) -> None:
        try:
            self._adopt(self._backend.load() or INITIAL_STATE)
        except StateUnavailableError as exc:
            self.state_unavailable(exc)
            raise

    def _tighten_unstored(self, change: StateChange, error: Exception) -> None:
        with self._lock:
            if self._unstored is None or self._unstored.state < change.state:
                self._unstored = change
            changed = self._set_effective(self._effective())
        _log.error(
            "kill switch: %s by %s could not be stored (%s); applied here, stored later",
            change.state.name,
            change.actor,
            error,
        )
        if changed:
            self._notify()

    def _adopt(self, change: StateChange) -> None:
        with self._lock:
            known = self._known
            recovering = self.unreadable
            if known is not None and change.version < known.version:
                if recovering:
                    _log.warning(
                        "kill switch: stored state went back from version %d to %d; keeping %s",
                        known.version,
                        change.version,
                        known.state.name,
                    )
                    change = known
                else:
                    return  # a late notification
            self._known = change
            if recovering:
                self.unreadable = False
                self.last_error = None
                _log.warning("kill switch: trading state readable again: %s", change.state.name)
            changed = self._set_effective(self._effective()) or (
                known is None or known.version != change.version
            )
        if changed:
            self._notify()

    def _effective(self) -> TradingState:
        """Return the state to enforce (caller holds the lock)."""
        known = self._known
        if not self.unreadable:
            state = known.state if known is not None else TradingState.ACTIVE
        elif self._policy is UnreadablePolicy.FAIL_CLOSED or (
            known is None and self._policy is UnreadablePolicy.KEEP_LAST_KNOWN
        ):
            state = TradingState.HALTED
        else:
            state = known.state if known is not None else TradingState.ACTIVE
        if self._unstored is not None:
            state = max(state, self._unstored.state)
        return state

    def _set_effective(self, state: TradingState) -> bool:
        """Set the hot-path attributes (caller holds the lock); return whether they moved."""
        if state is self.state:
            return False
        # Readers take no lock: when tightening, close ``active`` before ``state`` moves.
        if state is TradingState.ACTIVE:
            self.state = state
            self.active = True
        else:
            self.active = False
            self.state = state
        return True

    def _notify(self) -> None:
        state, change = self.state, self.current
        for listener in list(self._listeners):
            try:
                listener(state, change)
            except Exception:  # noqa: BLE001 -- a bot's listener must not break the switch
                _log.exception("kill switch listener failed")
