"""Health samplers: how an endpoint is pinged, and what height it reports.

A port, so the pool is not Solana-only: ``SolanaSlotSampler`` asks ``getSlot`` (and, if
told, ``getHealth``, which answers -32005 on a node that is behind); ``EvmBlockSampler``
asks ``eth_blockNumber``. A sampler raises (any ``RpcError``) when the ping fails.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["EvmBlockSampler", "HealthSampler", "RpcCall", "SolanaSlotSampler"]

RpcCall = Callable[[str, Any], Awaitable[Any]]


class HealthSampler(Protocol):
    """Ping one endpoint through ``call(method, params)``; return its height or None."""

    async def sample(self, call: RpcCall) -> int | None:
        """Return the endpoint's height (slot, block number), None if it has none."""
        ...


@dataclass(frozen=True, slots=True)
class SolanaSlotSampler:
    """``getSlot`` at ``commitment``; with ``check_health``, ``getHealth`` first."""

    commitment: str = "processed"
    check_health: bool = False

    async def sample(self, call: RpcCall) -> int | None:
        """Return the node's slot."""
        if self.check_health:
            await call("getHealth", None)
        slot = await call("getSlot", [{"commitment": self.commitment}])
        if isinstance(slot, bool) or not isinstance(slot, int) or slot < 0:
            raise ValueError("getSlot did not answer a slot number")
        return slot


@dataclass(frozen=True, slots=True)
class EvmBlockSampler:
    """``eth_blockNumber`` (a hex quantity)."""

    async def sample(self, call: RpcCall) -> int | None:
        """Return the node's latest block number."""
        number = await call("eth_blockNumber", [])
        if not isinstance(number, str) or not number.startswith("0x"):
            raise ValueError("eth_blockNumber did not answer a hex quantity")
        return int(number, 16)
