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

__all__ = [
    "LAST_GOOD_VALUE",
    "BreakerConfig",
    "BreakerMetrics",
    "BreakerState",
    "CircuitBreaker",
    "CircuitOpenError",
    "WindowKind",
]
