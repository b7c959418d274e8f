"""Where the trading state lives: one port (``StateBackend``) and its back ends.

``MemoryBackend`` (one process), ``SQLiteBackend`` (a file shared by the processes of one
machine) and ``RedisBackend`` (processes anywhere; changes published). Each keeps a
versioned ``StateChange`` and its history and writes by compare-and-set on the version.
"""

from tradewarden.guard.state._errors import StateError, StateUnavailableError, VersionConflictError
from tradewarden.guard.state._memory import MemoryBackend
from tradewarden.guard.state._port import StateBackend, StateWatcher, Subscription
from tradewarden.guard.state._record import INITIAL_STATE, StateChange, TradingState
from tradewarden.guard.state._redis import RedisBackend
from tradewarden.guard.state._sqlite import SQLiteBackend

__all__ = [
    "INITIAL_STATE",
    "MemoryBackend",
    "RedisBackend",
    "SQLiteBackend",
    "StateBackend",
    "StateChange",
    "StateError",
    "StateUnavailableError",
    "StateWatcher",
    "Subscription",
    "TradingState",
    "VersionConflictError",
]
