"""A client for the warden's heartbeats (``POST /v1/heartbeats/{name}``, ``/start``,
``/fail``) that never blocks or crashes the bot when the warden is down.

A ping goes into a bounded outbox (full: the oldest is dropped and counted) and is sent in
the background, by a daemon thread (``HeartbeatClient``) or a task on the bot's loop
(``AsyncHeartbeatClient``), with short timeouts and an exponential backoff with full jitter.
The token travels in the ``X-Heartbeat-Token`` header, never in a URL or a log line.
Standard library only (``urllib``). ``register_heartbeat_metrics`` exposes the clients'
counts (sent, retried, dropped, rejected) on the bot's registry.
"""

from tradewarden.guard.heartbeat._client import AsyncHeartbeatClient, HeartbeatClient, HeartbeatRun
from tradewarden.guard.heartbeat._core import (
    TOKEN_ENV,
    HeartbeatConfig,
    HeartbeatStats,
    Ping,
    PingKind,
    backoff_s,
    describe_error,
)
from tradewarden.guard.heartbeat._metrics import HeartbeatCollector, register_heartbeat_metrics
from tradewarden.guard.heartbeat._transport import (
    PingRequest,
    PingTransport,
    TransportError,
    UrllibTransport,
)

__all__ = [
    "TOKEN_ENV",
    "AsyncHeartbeatClient",
    "HeartbeatClient",
    "HeartbeatCollector",
    "HeartbeatConfig",
    "HeartbeatRun",
    "HeartbeatStats",
    "Ping",
    "PingKind",
    "PingRequest",
    "PingTransport",
    "TransportError",
    "UrllibTransport",
    "backoff_s",
    "describe_error",
    "register_heartbeat_metrics",
]
