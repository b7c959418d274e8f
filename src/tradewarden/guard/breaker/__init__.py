"""Circuit breakers: consecutive or sliding-window counting, capped half-open trials,
operator states, fallbacks, metrics at scrape time, and state shared through Redis.

    breaker = CircuitBreaker("rpc_pool", BreakerConfig(failure_threshold=5))

    @breaker
    async def get_slot() -> int: ...

See docs/architecture.md ("Guard: circuit breaker") for the rules and the Redis layout.
"""

from ._breaker import (
    LAST_GOOD_VALUE,
    CircuitBreaker,
    Fallback,
    Guarded,
    LastGoodValue,
    Listener,
)
from ._config import BreakerConfig, WindowKind
from ._core import BreakerStatus, BreakerSync
from ._errors import CircuitOpenError
from ._metrics import BreakerMetrics
from ._redis import RedisBreakerSync, SharedBreakerState
from ._state import BreakerState

__all__ = [
    "LAST_GOOD_VALUE",
    "BreakerConfig",
    "BreakerMetrics",
    "BreakerState",
    "BreakerStatus",
    "BreakerSync",
    "CircuitBreaker",
    "CircuitOpenError",
    "Fallback",
    "Guarded",
    "LastGoodValue",
    "Listener",
    "RedisBreakerSync",
    "SharedBreakerState",
    "WindowKind",
]
