"""The status and statistics a managed Redis client reports."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

__all__ = ["RedisPoolStats", "RedisStatus"]

RedisStatus = Literal["connecting", "ready", "reconnecting", "end"]


@dataclass(frozen=True, slots=True)
class RedisPoolStats:
    """A snapshot of one client's connection state, in the terms ioredis uses."""

    status: RedisStatus
    connected: bool
    command_queue_length: int
    """Commands sent through ``execute``/``ping`` and awaiting a reply right now."""
    offline_queue_length: int
    """Commands waiting because no connection is ready."""
    pool_in_use: int
    pool_available: int
    pool_max: int
    reconnects_total: int
    """How many times the client went from ``reconnecting`` back to ``ready``."""
    last_error: str | None
    """The latest connection error, with the URL's password redacted."""
    last_ping_ms: float | None

    def as_dict(self) -> dict[str, object]:
        """Return the fields as a plain dict, for JSON and health endpoints."""
        return dataclasses.asdict(self)
