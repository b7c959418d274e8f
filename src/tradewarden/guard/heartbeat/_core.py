"""What both heartbeat clients share: the config, the outbox and the sending rules.

The outbox is a bounded queue: when it is full the oldest ping is dropped (and counted),
because the newest says the most about the bot now. A failed send is retried after an
exponential backoff with full jitter; a refusal the warden will repeat (401, 404, 422) is
dropped with a warning instead.
"""

from __future__ import annotations

import logging
import os
import random
import re
import threading
from collections import deque
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from urllib.parse import quote, urlsplit

from tradewarden.guard.heartbeat._transport import PingRequest

__all__ = [
    "TOKEN_ENV",
    "HeartbeatConfig",
    "HeartbeatStats",
    "Outbox",
    "Ping",
    "PingKind",
    "backoff_s",
    "describe_error",
]

log = logging.getLogger("tradewarden.guard.heartbeat")

TOKEN_ENV = "TRADEWARDEN_HEARTBEAT_TOKEN"  # noqa: S105 - the variable's name, not a token
_MAX_MESSAGE = 2000
_RETRYABLE = frozenset({408, 425, 429, 500, 502, 503, 504})


class PingKind(StrEnum):
    """Which endpoint a ping goes to."""

    SUCCESS = "success"
    START = "start"
    FAIL = "fail"


@dataclass(frozen=True, slots=True)
class Ping:
    """One ping waiting to be sent."""

    kind: PingKind
    message: str | None = None


def _read_token(token: str | None, token_env: str) -> str | None:
    if token:
        return token
    if value := os.environ.get(token_env):
        return value
    if path := os.environ.get(f"{token_env}_FILE"):
        try:
            return Path(path).read_text(encoding="utf-8").strip() or None
        except OSError as exc:
            raise ValueError(f"{token_env}_FILE cannot be read: {exc.strerror}") from None
    return None


@dataclass(frozen=True, slots=True)
class HeartbeatConfig:
    """Where and how to ping. ``token`` falls back to ``$TRADEWARDEN_HEARTBEAT_TOKEN`` or the
    file named by ``$TRADEWARDEN_HEARTBEAT_TOKEN_FILE``; ``api_key`` is the alternative."""

    url: str  # the warden's base URL, e.g. http://127.0.0.1:8000
    name: str
    token: str | None = field(default=None, repr=False)
    api_key: str | None = field(default=None, repr=False)
    token_env: str = TOKEN_ENV
    timeout_s: float = 5.0
    max_queue: int = 100
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ValueError("url: an http(s) URL of the warden, e.g. http://127.0.0.1:8000")
        if parts.username or parts.password or parts.query:
            raise ValueError("url: no credentials or query in the URL (pass token= instead)")
        if not self.name:
            raise ValueError("name: the heartbeat's name is required")
        if not (self.timeout_s > 0 and self.backoff_initial_s > 0):
            raise ValueError("timeout_s and backoff_initial_s must be positive")
        if self.backoff_max_s < self.backoff_initial_s:
            raise ValueError("backoff_max_s must be at least backoff_initial_s")
        if self.max_queue < 1:
            raise ValueError("max_queue must be at least 1")
        object.__setattr__(self, "token", _read_token(self.token, self.token_env))

    def request(self, ping: Ping) -> PingRequest:
        """Return the HTTP request for ``ping`` (credentials in headers, never the URL)."""
        path = f"{self.url.rstrip('/')}/v1/heartbeats/{quote(self.name, safe='')}"
        if ping.kind is not PingKind.SUCCESS:
            path += f"/{ping.kind.value}"
        headers = {"Content-Type": "text/plain; charset=utf-8", "User-Agent": "tradewarden-guard"}
        if self.token:
            headers["X-Heartbeat-Token"] = self.token
        elif self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        body = (ping.message or "").encode()[:_MAX_MESSAGE]
        return PingRequest(path, headers, body)


@dataclass(frozen=True, slots=True)
class HeartbeatStats:
    """What a client has done so far."""

    sent: int
    failed_attempts: int
    dropped: int
    rejected: int
    queued: int
    last_error: str | None


def backoff_s(failures: int, config: HeartbeatConfig, rng: random.Random) -> float:
    """Return the wait after ``failures`` failed sends in a row: full jitter, capped."""
    ceiling = min(config.backoff_max_s, config.backoff_initial_s * 2 ** min(failures - 1, 30))
    return rng.uniform(0.0, ceiling)


def retry_after_s(value: str | None, config: HeartbeatConfig) -> float | None:
    """Return a ``Retry-After`` in seconds (capped by ``backoff_max_s``), if it is one."""
    try:
        seconds = float(value) if value else None
    except ValueError:
        return None
    return None if seconds is None else min(max(seconds, 0.0), config.backoff_max_s)


def retryable(status: int) -> bool:
    """Return whether the warden may accept the same ping later."""
    return status in _RETRYABLE or status >= 500


_URL_CREDENTIALS = re.compile(r"(\w+://)[^/\s@]+@")
_QUERY = re.compile(r"\?\S*")


def describe_error(exc: BaseException) -> str:
    """Return a short, credential-free account of ``exc`` for a /fail message."""
    text = str(exc).splitlines()[0] if str(exc) else ""
    text = _QUERY.sub("?...", _URL_CREDENTIALS.sub(r"\1", text))[:300]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class Outbox:
    """The bounded queue of pings and the counters, shared by the sender and the bot."""

    def __init__(self, max_queue: int) -> None:
        self._pings: deque[Ping] = deque()
        self._max = max_queue
        self.lock = threading.Lock()
        self.sent = 0
        self.failed_attempts = 0
        self.dropped = 0
        self.rejected = 0
        self.last_error: str | None = None

    def put(self, ping: Ping) -> None:
        """Queue ``ping``, dropping the oldest when full."""
        with self.lock:
            if len(self._pings) >= self._max:
                self._pings.popleft()
                self.dropped += 1
            self._pings.append(ping)

    def take(self) -> Ping | None:
        """Return the oldest ping, removed from the queue, or None."""
        with self.lock:
            return self._pings.popleft() if self._pings else None

    def put_back(self, ping: Ping) -> None:
        """Return a ping whose send failed to the head, unless newer ones filled the queue."""
        with self.lock:
            if len(self._pings) >= self._max:
                self.dropped += 1
            else:
                self._pings.appendleft(ping)

    def __len__(self) -> int:
        return len(self._pings)

    def stats(self) -> HeartbeatStats:
        """Return the counters now."""
        with self.lock:
            return HeartbeatStats(
                self.sent,
                self.failed_attempts,
                self.dropped,
                self.rejected,
                len(self._pings),
                self.last_error,
            )
