"""Risk limits: each a pure function of a portfolio snapshot and time; each breach an event.

``RiskEngine`` evaluates them and applies a breach's action (REDUCING or HALTED) through
the kill switch, latched, with the actor ``risk:<limit>``.
"""

from tradewarden.guard.risk._engine import RiskEngine
from tradewarden.guard.risk._limits import (
    ConcentrationLimit,
    ConsecutiveLossesLimit,
    DailyLossLimit,
    DrawdownLimit,
    LowBalanceLimit,
    OrderNotionalLimit,
    PortfolioSnapshot,
    RiskBreach,
    RiskLimits,
    RiskView,
    SubmitRateLimit,
    TradeResult,
    concentration,
    consecutive_losses,
    drawdown,
    evaluate_limits,
    submits_in_window,
    trading_day,
)
from tradewarden.guard.risk._metrics import RiskCollector, register_risk_metrics
from tradewarden.guard.risk._track import (
    RedisTrackStore,
    RiskTrack,
    SQLiteTrackStore,
    TrackStore,
    TrackStoreError,
    advance_track,
)

__all__ = [
    "ConcentrationLimit",
    "ConsecutiveLossesLimit",
    "DailyLossLimit",
    "DrawdownLimit",
    "LowBalanceLimit",
    "OrderNotionalLimit",
    "PortfolioSnapshot",
    "RedisTrackStore",
    "RiskBreach",
    "RiskCollector",
    "RiskEngine",
    "RiskLimits",
    "RiskTrack",
    "RiskView",
    "SQLiteTrackStore",
    "SubmitRateLimit",
    "TrackStore",
    "TrackStoreError",
    "TradeResult",
    "advance_track",
    "concentration",
    "consecutive_losses",
    "drawdown",
    "evaluate_limits",
    "register_risk_metrics",
    "submits_in_window",
    "trading_day",
]
