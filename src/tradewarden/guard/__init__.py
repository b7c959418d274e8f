"""The guard: imported by a trading bot, it keeps the bot's own calls and orders safe.

Circuit breakers, an RPC endpoint pool with failover, retries that understand trading
errors, the latched kill switch and trading state, risk limits, trading metrics and
heartbeats. It imports nothing from the warden (no FastAPI, no SQLAlchemy, no pydantic):
only the core dependencies, and redis-py where a Redis back end is asked for.
"""

__all__: list[str] = []
