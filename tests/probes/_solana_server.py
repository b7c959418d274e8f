"""The fake Solana node moved to ``support.solana_node`` (the guard's RPC pool tests use it too)."""

from support.solana_node import BLOCKHASH, RpcRequest, SolanaNode, unhealthy_error

__all__ = ["BLOCKHASH", "RpcRequest", "SolanaNode", "unhealthy_error"]
