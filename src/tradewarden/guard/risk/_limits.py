"""Risk limits: frozen configs, and the pure maths each one is judged by.

Thresholds in percent are named ``*_pct`` (5.0 means 5 %); the metrics export ratios.
A loss or drawdown limit is breached when the value reaches its threshold; a
concentration when it exceeds it; a balance when it falls below its minimum.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tradewarden.guard.state import TradingState

__all__ = [
    "ConcentrationLimit",
    "ConsecutiveLossesLimit",
    "DailyLossLimit",
    "DrawdownLimit",
    "LowBalanceLimit",
    "OrderNotionalLimit",
    "PortfolioSnapshot",
    "RiskBreach",
    "RiskLimits",
    "RiskView",
    "SubmitRateLimit",
    "TradeResult",
    "concentration",
    "consecutive_losses",
    "drawdown",
    "evaluate_limits",
    "submits_in_window",
    "trading_day",
]

_ACTIONS = (TradingState.REDUCING, TradingState.HALTED)


@dataclass(frozen=True, slots=True)
class PortfolioSnapshot:
    """What the bot holds now, in its quote currency.

    ``positions`` maps an asset to its signed exposure (long > 0); ``balance`` is the free
    cash the low-balance limit watches (the equity when None).
    """

    equity: float
    positions: Mapping[str, float] = field(default_factory=dict)
    balance: float | None = None


@dataclass(frozen=True, slots=True)
class TradeResult:
    """One closed trade: when it closed and what it made (a loss is negative)."""

    closed_at: float
    pnl: float


@dataclass(frozen=True, slots=True)
class RiskBreach:
    """A limit crossed: which, the value, the threshold, and the action taken (None: the
    order was refused and the trading state left alone)."""

    limit: str
    value: float
    threshold: float
    action: TradingState | None
    at: float
    detail: str = ""


@dataclass(frozen=True, slots=True)
class RiskView:
    """Everything the snapshot limits are judged on, read at one instant."""

    at: float
    snapshot: PortfolioSnapshot
    start_of_day_equity: float
    peak_equity: float
    trades: Sequence[TradeResult] = ()


def _positive(name: str, value: float | None) -> None:
    if value is not None and not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive number, got {value!r}")


def _action(action: TradingState | None, *, optional: bool = False) -> None:
    if action is None and optional:
        return
    if action not in _ACTIONS:
        raise ValueError(f"a limit's action is REDUCING or HALTED, got {action!r}")


@dataclass(frozen=True, slots=True)
class DailyLossLimit:
    """Loss since the start of the trading day: absolute and/or percent of that day's
    starting equity. The day starts at midnight in ``RiskLimits.timezone``."""

    max_loss: float | None = None
    max_loss_pct: float | None = None
    action: TradingState = TradingState.HALTED
    name = "daily_loss"

    def __post_init__(self) -> None:
        if self.max_loss is None and self.max_loss_pct is None:
            raise ValueError("DailyLossLimit needs max_loss or max_loss_pct")
        _positive("max_loss", self.max_loss)
        _positive("max_loss_pct", self.max_loss_pct)
        _action(self.action)

    def evaluate(self, view: RiskView) -> RiskBreach | None:
        """Return a breach when today's loss has reached a threshold."""
        loss = max(0.0, view.start_of_day_equity - view.snapshot.equity)
        if self.max_loss is not None and loss >= self.max_loss:
            return RiskBreach(
                self.name, loss, self.max_loss, self.action, view.at, f"daily loss {loss:g}"
            )
        if self.max_loss_pct is not None and view.start_of_day_equity > 0:
            loss_pct = 100.0 * loss / view.start_of_day_equity
            if loss_pct >= self.max_loss_pct:
                return RiskBreach(
                    self.name,
                    loss_pct,
                    self.max_loss_pct,
                    self.action,
                    view.at,
                    f"daily loss {loss_pct:.2f} % of start-of-day equity",
                )
        return None


@dataclass(frozen=True, slots=True)
class DrawdownLimit:
    """Fall from the equity peak: percent of the peak and/or absolute."""

    max_drawdown_pct: float | None = None
    max_drawdown: float | None = None
    action: TradingState = TradingState.HALTED
    name = "drawdown"

    def __post_init__(self) -> None:
        if self.max_drawdown is None and self.max_drawdown_pct is None:
            raise ValueError("DrawdownLimit needs max_drawdown_pct or max_drawdown")
        _positive("max_drawdown_pct", self.max_drawdown_pct)
        _positive("max_drawdown", self.max_drawdown)
        _action(self.action)

    def evaluate(self, view: RiskView) -> RiskBreach | None:
        """Return a breach when the drawdown has reached a threshold."""
        amount, ratio = drawdown(view.snapshot.equity, view.peak_equity)
        if self.max_drawdown_pct is not None and 100.0 * ratio >= self.max_drawdown_pct:
            return RiskBreach(
                self.name,
                100.0 * ratio,
                self.max_drawdown_pct,
                self.action,
                view.at,
                f"drawdown {100.0 * ratio:.2f} % from peak {view.peak_equity:g}",
            )
        if self.max_drawdown is not None and amount >= self.max_drawdown:
            return RiskBreach(
                self.name, amount, self.max_drawdown, self.action, view.at, f"drawdown {amount:g}"
            )
        return None


@dataclass(frozen=True, slots=True)
class ConcentrationLimit:
    """The largest single-asset exposure as a percent of equity."""

    max_position_pct: float
    action: TradingState = TradingState.REDUCING
    name = "concentration"

    def __post_init__(self) -> None:
        _positive("max_position_pct", self.max_position_pct)
        _action(self.action)

    def evaluate(self, view: RiskView) -> RiskBreach | None:
        """Return a breach when one asset holds more than the share allowed."""
        asset, ratio = concentration(view.snapshot.positions, view.snapshot.equity)
        if asset is not None and 100.0 * ratio > self.max_position_pct:
            return RiskBreach(
                self.name,
                100.0 * ratio,
                self.max_position_pct,
                self.action,
                view.at,
                f"{asset} is {100.0 * ratio:.2f} % of equity",
            )
        return None


@dataclass(frozen=True, slots=True)
class LowBalanceLimit:
    """Free balance below a floor (the equity when the snapshot has no balance)."""

    min_balance: float
    action: TradingState = TradingState.REDUCING
    name = "low_balance"

    def __post_init__(self) -> None:
        _positive("min_balance", self.min_balance)
        _action(self.action)

    def evaluate(self, view: RiskView) -> RiskBreach | None:
        """Return a breach when the balance is under the floor."""
        snapshot = view.snapshot
        balance = snapshot.balance if snapshot.balance is not None else snapshot.equity
        if balance < self.min_balance:
            return RiskBreach(
                self.name, balance, self.min_balance, self.action, view.at, f"balance {balance:g}"
            )
        return None


@dataclass(frozen=True, slots=True)
class ConsecutiveLossesLimit:
    """``max_losses`` losing trades in a row, all closed within ``window_s`` (like
    freqtrade's StoplossGuard)."""

    max_losses: int
    window_s: float
    action: TradingState = TradingState.HALTED
    name = "consecutive_losses"

    def __post_init__(self) -> None:
        if self.max_losses < 1:
            raise ValueError("max_losses must be at least 1")
        _positive("window_s", self.window_s)
        _action(self.action)

    def evaluate(self, view: RiskView) -> RiskBreach | None:
        """Return a breach when the latest trades are that many losses in the window."""
        count = consecutive_losses(view.trades, view.at, self.window_s)
        if count >= self.max_losses:
            return RiskBreach(
                self.name,
                float(count),
                float(self.max_losses),
                self.action,
                view.at,
                f"{count} losing trades in a row within {self.window_s:g} s",
            )
        return None


@dataclass(frozen=True, slots=True)
class OrderNotionalLimit:
    """The largest order allowed; a bigger one is refused (and, with an action, trips)."""

    max_notional: float
    action: TradingState | None = None
    name = "order_notional"

    def __post_init__(self) -> None:
        _positive("max_notional", self.max_notional)
        _action(self.action, optional=True)


@dataclass(frozen=True, slots=True)
class SubmitRateLimit:
    """At most ``max_orders`` orders in any sliding window of ``window_s``."""

    max_orders: int = 100
    window_s: float = 1.0
    action: TradingState | None = None
    name = "submit_rate"

    def __post_init__(self) -> None:
        if self.max_orders < 1:
            raise ValueError("max_orders must be at least 1")
        _positive("window_s", self.window_s)
        _action(self.action, optional=True)


SnapshotLimit = (
    DailyLossLimit | DrawdownLimit | ConcentrationLimit | LowBalanceLimit | ConsecutiveLossesLimit
)


@dataclass(frozen=True, slots=True)
class RiskLimits:
    """The limits a RiskEngine enforces (each optional) and the trading day's time zone."""

    daily_loss: DailyLossLimit | None = None
    drawdown: DrawdownLimit | None = None
    concentration: ConcentrationLimit | None = None
    low_balance: LowBalanceLimit | None = None
    consecutive_losses: ConsecutiveLossesLimit | None = None
    order_notional: OrderNotionalLimit | None = None
    submit_rate: SubmitRateLimit | None = None
    timezone: str = "UTC"

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {self.timezone!r}") from exc

    @property
    def zone(self) -> ZoneInfo:
        """Return the trading day's time zone."""
        return ZoneInfo(self.timezone)

    def snapshot_limits(self) -> list[SnapshotLimit]:
        """Return the configured limits judged on a portfolio snapshot."""
        limits = (
            self.daily_loss,
            self.drawdown,
            self.concentration,
            self.low_balance,
            self.consecutive_losses,
        )
        return [limit for limit in limits if limit is not None]

    def names(self) -> list[str]:
        """Return the names of every configured limit."""
        order_limits = (self.order_notional, self.submit_rate)
        return [limit.name for limit in self.snapshot_limits()] + [
            limit.name for limit in order_limits if limit is not None
        ]


def evaluate_limits(limits: Iterable[SnapshotLimit], view: RiskView) -> list[RiskBreach]:
    """Return the breaches of ``limits`` for ``view``: pure."""
    return [breach for limit in limits if (breach := limit.evaluate(view)) is not None]


def trading_day(now: float, zone: ZoneInfo) -> date:
    """Return the calendar day in ``zone`` that the epoch reading ``now`` falls on."""
    return datetime.fromtimestamp(now, tz=zone).date()


def drawdown(equity: float, peak: float) -> tuple[float, float]:
    """Return the fall from ``peak`` as (amount, ratio of the peak); never negative."""
    amount = max(0.0, peak - equity)
    ratio = min(1.0, amount / peak) if peak > 0 else 0.0
    return amount, ratio


def concentration(positions: Mapping[str, float], equity: float) -> tuple[str | None, float]:
    """Return the asset with the largest exposure and its ratio to equity.

    With no equity left, any exposure is infinitely concentrated.
    """
    if not positions:
        return None, 0.0
    asset = max(positions, key=lambda name: abs(positions[name]))
    exposure = abs(positions[asset])
    if exposure == 0:
        return None, 0.0
    return asset, (exposure / equity if equity > 0 else math.inf)


def consecutive_losses(trades: Sequence[TradeResult], now: float, window_s: float) -> int:
    """Return how many of the latest trades (oldest first in ``trades``) are losses closed
    within ``window_s`` of ``now``; a win or an older trade ends the run."""
    count = 0
    for trade in reversed(trades):
        if trade.pnl >= 0 or now - trade.closed_at >= window_s:
            break
        count += 1
    return count


def submits_in_window(submit_times: Sequence[float], now: float, window_s: float) -> int:
    """Return how many submits happened in the sliding window ending at ``now``."""
    return sum(1 for at in submit_times if now - at < window_s)
