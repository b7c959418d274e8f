"""The risk engine: keeps what the limits need over time and trips the kill switch.

The limits themselves are pure (``_limits.py``); the engine holds the few facts they
depend on across snapshots (start-of-day equity, the equity peak, recent trades, recent
submits), reads the clock once per decision, and applies a breach's action through the
kill switch with the actor ``risk:<limit>``, so the halt is latched and audited like an
operator's. A limit that stays breached is reported once; it is reported (and applied)
again when it clears and comes back, or when the trading state is looser than its action
(an operator resumed while the limit still holds).
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable

from tradewarden.clock import Clock, SystemClock
from tradewarden.guard.risk._limits import (
    PortfolioSnapshot,
    RiskBreach,
    RiskLimits,
    RiskView,
    TradeResult,
    evaluate_limits,
)
from tradewarden.guard.risk._track import (
    RiskTrack,
    TrackStore,
    TrackStoreError,
    advance_track,
)
from tradewarden.guard.state import StateError, TradingState
from tradewarden.guard.trading import (
    DenialReason,
    KillSwitch,
    OrderDecision,
    OrderSide,
    check_order,
)

__all__ = ["RiskEngine"]

_log = logging.getLogger("tradewarden.guard.risk")
_MAX_TRADES = 1000


class RiskEngine:
    """Evaluate the limits on each snapshot and guard each order; apply breaches.

    ``evaluate(snapshot)`` after every portfolio update, ``record_trade(pnl)`` after every
    closed trade, ``check_order(side, notional, position)`` before every new order.
    """

    def __init__(
        self,
        kill_switch: KillSwitch,
        limits: RiskLimits,
        *,
        clock: Clock | None = None,
        track: RiskTrack | None = None,
        track_store: TrackStore | None = None,
        save_interval_s: float = 1.0,
        on_breach: Callable[[RiskBreach], None] | None = None,
    ) -> None:
        self._kill_switch = kill_switch
        self._limits = limits
        self._clock = clock or SystemClock()
        self._track_store = track_store
        self._save_interval_s = save_interval_s
        self._saved_at: float | None = None
        self._save_lock = threading.Lock()
        self._unsaved = False
        if track is None and track_store is not None:
            try:
                track = track_store.load()
            except TrackStoreError as exc:
                _log.warning("risk: stored track unreadable (%s); starting a new day and peak", exc)
        self._track = track or RiskTrack()
        self._on_breach = on_breach
        self._lock = threading.Lock()
        self._trades: deque[TradeResult] = deque(maxlen=_MAX_TRADES)
        self._submits: deque[float] = deque()
        self._breached: set[str] = set()
        self._equity: float | None = None
        self.breach_counts: dict[str, int] = dict.fromkeys(limits.names(), 0)

    @property
    def limits(self) -> RiskLimits:
        """Return the limits enforced."""
        return self._limits

    @property
    def track(self) -> RiskTrack:
        """Return what the engine remembers across snapshots (persist it to survive restarts)."""
        return self._track

    @property
    def daily_pnl(self) -> float | None:
        """Return equity minus the day's starting equity (None before the first snapshot)."""
        if self._equity is None:
            return None
        return self._equity - self._track.start_of_day_equity

    @property
    def drawdown_ratio(self) -> float | None:
        """Return the fall from the peak as a ratio (None before the first snapshot)."""
        if self._equity is None:
            return None
        peak = self._track.peak_equity
        return min(1.0, max(0.0, peak - self._equity) / peak) if peak > 0 else 0.0

    def record_trade(self, pnl: float, *, closed_at: float | None = None) -> None:
        """Remember a closed trade for the consecutive-losses limit."""
        at = self._clock.now() if closed_at is None else closed_at
        with self._lock:
            self._trades.append(TradeResult(at, pnl))

    def evaluate(self, snapshot: PortfolioSnapshot) -> list[RiskBreach]:
        """Judge every snapshot limit now; apply and return the breaches newly reported."""
        now = self._clock.now()
        with self._lock:
            track = advance_track(self._track, snapshot.equity, now, self._limits)
            new_day = track.day != self._track.day
            self._unsaved = self._unsaved or track != self._track
            self._track = track
            self._equity = snapshot.equity
            view = RiskView(
                at=now,
                snapshot=snapshot,
                start_of_day_equity=self._track.start_of_day_equity,
                peak_equity=self._track.peak_equity,
                trades=tuple(self._trades),
            )
            breaches = evaluate_limits(self._limits.snapshot_limits(), view)
            state = self._kill_switch.state
            names = {breach.limit for breach in breaches}
            reported = [
                breach
                for breach in breaches
                if breach.limit not in self._breached
                or (breach.action is not None and state < breach.action)
            ]
            self._breached = names
        self._save(track, force=new_day)
        for breach in reported:
            self._report(breach)
        return reported

    def _save(self, track: RiskTrack, *, force: bool) -> None:
        """Store the track: at once on a new day, else at most once per save interval."""
        if self._track_store is None:
            return
        tick = self._clock.monotonic()
        with self._save_lock:
            recent = self._saved_at is not None and tick - self._saved_at < self._save_interval_s
            if not self._unsaved or (recent and not force):
                return
            try:
                self._track_store.save(track)
            except TrackStoreError as exc:
                _log.warning("risk: the track could not be stored: %s", exc)
                return
            self._saved_at = tick
            self._unsaved = False

    def check_order(self, side: OrderSide, notional: float, position: float) -> OrderDecision:
        """Decide a new order against the trading state and the order limits.

        An allowed order counts against the submit rate; a refusal by an order limit is a
        breach (reported, and applied when the limit has an action).
        """
        now = self._clock.now()
        # The window is measured on the monotonic clock: a wall-clock step must not
        # empty it or fill it.
        tick = self._clock.monotonic()
        notional_limit = self._limits.order_notional
        rate_limit = self._limits.submit_rate
        with self._lock:
            in_window = 0
            if rate_limit is not None:
                while self._submits and tick - self._submits[0] >= rate_limit.window_s:
                    self._submits.popleft()
                in_window = len(self._submits)
            decision = check_order(
                side,
                notional,
                position,
                state=self._kill_switch.state,
                max_notional=notional_limit.max_notional if notional_limit else None,
                submits_in_window=in_window,
                max_submits=rate_limit.max_orders if rate_limit else None,
            )
            if decision.allowed and rate_limit is not None:
                self._submits.append(tick)
        if decision.reason is DenialReason.NOTIONAL_EXCEEDS_MAX and notional_limit is not None:
            self._report(
                RiskBreach(
                    notional_limit.name,
                    notional,
                    notional_limit.max_notional,
                    notional_limit.action,
                    now,
                    decision.detail,
                )
            )
        elif decision.reason is DenialReason.RATE_LIMIT_EXCEEDED and rate_limit is not None:
            self._report(
                RiskBreach(
                    rate_limit.name,
                    float(in_window + 1),
                    float(rate_limit.max_orders),
                    rate_limit.action,
                    now,
                    decision.detail,
                )
            )
        return decision

    def _report(self, breach: RiskBreach) -> None:
        with self._lock:
            self.breach_counts[breach.limit] = self.breach_counts.get(breach.limit, 0) + 1
        _log.warning(
            "risk limit %s breached: %g against %g (%s); action %s",
            breach.limit,
            breach.value,
            breach.threshold,
            breach.detail,
            breach.action.name if breach.action is not None else "order refused",
        )
        actor, reason = f"risk:{breach.limit}", f"{breach.limit} limit breached"
        try:
            if breach.action is TradingState.HALTED:
                self._kill_switch.halt(actor, reason, breach.detail)
            elif breach.action is TradingState.REDUCING:
                self._kill_switch.reduce(actor, reason, breach.detail)
        except StateError as exc:
            _log.error(
                "risk limit %s: the trading state could not be stored: %s", breach.limit, exc
            )
        if self._on_breach is not None:
            self._on_breach(breach)
