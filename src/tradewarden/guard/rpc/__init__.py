"""The RPC endpoint pool: ranked JSON-RPC endpoints, a breaker each, failover, metrics.

Solana first (``SolanaSlotSampler``, the classifier's Solana error table), not Solana only:
the transport (``Transport``, default ``HttpxTransport`` from the ``rpc`` extra) and the
health sampler (``HealthSampler``; ``EvmBlockSampler`` for EVM nodes) are ports, and so
is the breaker (``BreakerPort``: the guard's ``CircuitBreaker`` through ``guard_breakers()``,
or the small ``LocalBreaker`` by default).
"""

from tradewarden.guard.rpc._blocking import BlockingRpcPool
from tradewarden.guard.rpc._breaker import (
    BreakerFactory,
    BreakerPort,
    CircuitBreakerPort,
    LocalBreaker,
    Permit,
    guard_breakers,
)
from tradewarden.guard.rpc._endpoint import Endpoint
from tradewarden.guard.rpc._errors import (
    NoEndpointAvailableError,
    RpcError,
    RpcHttpError,
    RpcOutcomeUnknownError,
    RpcProtocolError,
    RpcResponseError,
    RpcTransportError,
)
from tradewarden.guard.rpc._health import EvmBlockSampler, HealthSampler, RpcCall, SolanaSlotSampler
from tradewarden.guard.rpc._pool import SEND_METHODS, EndpointStatus, PoolConfig, RpcPool
from tradewarden.guard.rpc._ranking import Sample, Standing, lags, rank, scores
from tradewarden.guard.rpc._transport import HttpReply, HttpxTransport, Transport, TransportFailure

__all__ = [
    "SEND_METHODS",
    "BlockingRpcPool",
    "BreakerFactory",
    "BreakerPort",
    "CircuitBreakerPort",
    "Endpoint",
    "EndpointStatus",
    "EvmBlockSampler",
    "HealthSampler",
    "HttpReply",
    "HttpxTransport",
    "LocalBreaker",
    "NoEndpointAvailableError",
    "Permit",
    "PoolConfig",
    "RpcCall",
    "RpcError",
    "RpcHttpError",
    "RpcOutcomeUnknownError",
    "RpcPool",
    "RpcProtocolError",
    "RpcResponseError",
    "RpcTransportError",
    "Sample",
    "SolanaSlotSampler",
    "Standing",
    "Transport",
    "TransportFailure",
    "guard_breakers",
    "lags",
    "rank",
    "scores",
]
