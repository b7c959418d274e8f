"""Trading metrics under the seeds' names, on a registry the bot passes in, and two ways to
serve them: ``MetricsServer`` (``/metrics`` and ``/health`` on a daemon thread, loopback by
default) or ``metrics_asgi_app`` to mount into the bot's own ASGI app.

Label values are bounded (``LabelCap``): a fixed vocabulary where one exists (order status,
failure kind), else a cap on distinct values; wallets are labelled by name or a shortened
public key, and a string that looks like a private key is refused.
"""

from tradewarden.guard.metrics._labels import OTHER, LabelCap, wallet_label
from tradewarden.guard.metrics._serve import HealthCheck, MetricsServer, metrics_asgi_app
from tradewarden.guard.metrics._trading import (
    ORDER_BUCKETS_S,
    SWAP_BUCKETS_S,
    OrderStatus,
    OrderTimer,
    TradingMetrics,
)

__all__ = [
    "ORDER_BUCKETS_S",
    "OTHER",
    "SWAP_BUCKETS_S",
    "HealthCheck",
    "LabelCap",
    "MetricsServer",
    "OrderStatus",
    "OrderTimer",
    "TradingMetrics",
    "metrics_asgi_app",
    "wallet_label",
]
