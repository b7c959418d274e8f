"""Monitor kinds: one module each, all shaped like ``_template.py``.

``MonitorConfig`` is the union of every kind's spec, told apart by ``kind``; a config file
or an API body is validated against it with ``validate_monitor``.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import ConfigDict, Field, TypeAdapter

from tradewarden.probes.kinds.exchange import ExchangeSpec
from tradewarden.probes.kinds.heartbeat import HeartbeatSpec
from tradewarden.probes.kinds.http import HttpSpec
from tradewarden.probes.kinds.postgres import PostgresSpec
from tradewarden.probes.kinds.queue import QueueSpec
from tradewarden.probes.kinds.redis import RedisSpec
from tradewarden.probes.kinds.solana_rpc import SolanaRpcSpec
from tradewarden.probes.kinds.system import SystemSpec
from tradewarden.probes.kinds.tcp import TcpSpec

__all__ = [
    "KINDS",
    "ExchangeSpec",
    "HeartbeatSpec",
    "HttpSpec",
    "MonitorConfig",
    "PostgresSpec",
    "QueueSpec",
    "RedisSpec",
    "SolanaRpcSpec",
    "SystemSpec",
    "TcpSpec",
    "monitor_adapter",
]

# A new kind: add its spec here and to the union below (a test checks they agree).
KINDS = (
    HttpSpec,
    TcpSpec,
    PostgresSpec,
    RedisSpec,
    SystemSpec,
    HeartbeatSpec,
    SolanaRpcSpec,
    QueueSpec,
    ExchangeSpec,
)

MonitorConfig = Annotated[
    HttpSpec
    | TcpSpec
    | PostgresSpec
    | RedisSpec
    | SystemSpec
    | HeartbeatSpec
    | SolanaRpcSpec
    | QueueSpec
    | ExchangeSpec,
    Field(discriminator="kind"),
]


def monitor_adapter() -> TypeAdapter[Any]:
    """Return a validator for one monitor of any kind.

    Inputs are hidden from error messages: a monitor may carry an inline secret (a DSN
    with a password) and a validation error must not echo it.
    """
    return TypeAdapter(MonitorConfig, config=ConfigDict(hide_input_in_errors=True))
