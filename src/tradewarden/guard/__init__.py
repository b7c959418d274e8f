"""The guard: imported by a trading bot, it keeps the bot's own calls and orders safe.

Circuit breakers, an RPC endpoint pool with failover, retries that understand trading
errors, the latched kill switch and trading state, risk limits, trading metrics and
heartbeats. It imports nothing from the warden (no FastAPI, no SQLAlchemy, no pydantic):
only the core dependencies, and redis-py where a Redis back end is asked for.
"""

from .breaker import (
    LAST_GOOD_VALUE,
    BreakerConfig,
    BreakerMetrics,
    BreakerState,
    CircuitBreaker,
    CircuitOpenError,
    WindowKind,
)
from .risk import (
    ConcentrationLimit,
    ConsecutiveLossesLimit,
    DailyLossLimit,
    DrawdownLimit,
    LowBalanceLimit,
    OrderNotionalLimit,
    PortfolioSnapshot,
    RiskBreach,
    RiskEngine,
    RiskLimits,
    SubmitRateLimit,
    register_risk_metrics,
)
from .state import (
    MemoryBackend,
    RedisBackend,
    SQLiteBackend,
    StateBackend,
    StateChange,
    StateUnavailableError,
    TradingState,
)
from .trading import (
    DenialReason,
    KillSwitch,
    OrderDecision,
    OrderSide,
    UnreadablePolicy,
    check_order,
    register_trading_metrics,
)

__all__ = [
    "LAST_GOOD_VALUE",
    "BreakerConfig",
    "BreakerMetrics",
    "BreakerState",
    "CircuitBreaker",
    "CircuitOpenError",
    "ConcentrationLimit",
    "ConsecutiveLossesLimit",
    "DailyLossLimit",
    "DenialReason",
    "DrawdownLimit",
    "KillSwitch",
    "LowBalanceLimit",
    "MemoryBackend",
    "OrderDecision",
    "OrderNotionalLimit",
    "OrderSide",
    "PortfolioSnapshot",
    "RedisBackend",
    "RiskBreach",
    "RiskEngine",
    "RiskLimits",
    "SQLiteBackend",
    "StateBackend",
    "StateChange",
    "StateUnavailableError",
    "SubmitRateLimit",
    "TradingState",
    "UnreadablePolicy",
    "WindowKind",
    "check_order",
    "register_risk_metrics",
    "register_trading_metrics",
]
