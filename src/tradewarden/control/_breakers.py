"""The warden's side of the shared circuit breakers: list them, open, close and reset them.

The bots' breakers share their state through ``RedisBreakerSync`` (guard/breaker/_redis.py):
one hash per breaker, ``<prefix><name>``, changed only by its Lua scripts, each change
PUBLISHed. The warden goes through the sync's operator calls, never started (no threads):
``names`` (a SCAN of ``<prefix>*`` keeping hashes; the seeds' per-field string keys are not
breakers here), ``read`` and ``write`` (the operator's transition, which always wins and is
announced), so every attached breaker takes a change up within milliseconds. redis-py
blocks, so each call runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Literal, TypeVar

from tradewarden.control._errors import ControlUnavailableError
from tradewarden.errors import NotFoundError
from tradewarden.guard.breaker import BreakerState, RedisBreakerSync, SharedBreakerState
from tradewarden.redisconn._url import Redactor

__all__ = ["BreakerAction", "BreakerControl", "BreakerListener", "BreakerView"]

_log = logging.getLogger("tradewarden.control")

_T = TypeVar("_T")
BreakerAction = Literal["open", "close", "reset"]
_UNKNOWN = "UNKNOWN"


@dataclass(frozen=True, slots=True)
class BreakerView:
    """One breaker's shared state as the API shows it (times in epoch seconds)."""

    name: str
    state: str  # a BreakerState value, or UNKNOWN when the hash holds something else
    failure_count: int
    last_failure_time: float | None
    opened_at: float | None
    remaining_s: float | None
    version: int

    @classmethod
    def of(cls, name: str, snapshot: SharedBreakerState | None) -> BreakerView:
        """Return the view of a script's snapshot (None: a state the guard does not know)."""
        if snapshot is None:
            return cls(name, _UNKNOWN, 0, None, None, None, 0)
        return cls(
            name,
            snapshot.state.value,
            snapshot.failure_count,
            snapshot.last_failure_time,
            snapshot.opened_at,
            snapshot.remaining_s,
            snapshot.version,
        )


BreakerListener = Callable[[BreakerView], None]
"""Called on the event loop with a breaker's state after an operator's action."""


class BreakerControl:
    """Read and change the shared breakers on one Redis; needs redis-py."""

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "circuit_breaker:",
        channel: str = "circuit_breaker:events",
        timeout_s: float = 30.0,
        socket_timeout_s: float = 1.0,
    ) -> None:
        import redis as redis_py

        self._redis_py = redis_py
        self._url = url
        self._redactor = Redactor(url)
        self.prefix = prefix
        self.channel = channel
        self.timeout_s = timeout_s
        self._sync = RedisBreakerSync(
            url, prefix=prefix, channel=channel, socket_timeout_s=socket_timeout_s
        )  # never started: its operator calls need no threads
        self._listeners: list[BreakerListener] = []

    def add_listener(self, listener: BreakerListener) -> None:
        """Call ``listener`` with the state after each action (none: nothing called)."""
        self._listeners.append(listener)

    @property
    def display_url(self) -> str:
        """Return the Redis URL with its password masked."""
        return self._redactor.display_url

    async def all(self) -> list[BreakerView]:
        """Return every breaker with a hash under the prefix, by name."""
        return await self._run(self._list)

    async def get(self, name: str) -> BreakerView:
        """Return one breaker; raise NotFoundError when it has no hash."""

        def read() -> BreakerView:
            view = self._read(name)
            if view is None:
                raise NotFoundError(f"no circuit breaker {name!r} in Redis")
            return view

        return await self._run(read)

    async def act(
        self, name: str, action: BreakerAction, *, forced: bool = True
    ) -> tuple[BreakerView | None, BreakerView]:
        """Apply an operator's action; return the state before (None: no hash) and after.

        ``open`` with ``forced`` is FORCED_OPEN (rejects until an operator acts), without
        it OPEN (half-open after ``timeout_s``); it may create the hash, so a breaker can
        be opened before any bot has written it. ``close`` and ``reset`` (the same, as in
        the library: CLOSED, count cleared) need an existing hash (NotFoundError).
        """
        if action == "open":
            target = BreakerState.FORCED_OPEN if forced else BreakerState.OPEN
        else:
            target = BreakerState.CLOSED

        def write() -> tuple[BreakerView | None, BreakerView]:
            before = self._read(name)
            if before is None and action != "open":
                raise NotFoundError(f"no circuit breaker {name!r} in Redis")
            after = BreakerView.of(name, self._sync.write(name, target, self.timeout_s))
            return before, after

        before, after = await self._run(write)
        for listener in list(self._listeners):
            try:
                listener(after)
            except Exception:  # noqa: BLE001 -- a listener must not break the action
                _log.exception("circuit breaker listener failed")
        return before, after

    async def announced(self) -> AsyncIterator[str]:
        """Yield the name of every breaker whose change is announced on the channel.

        Subscribes on a connection of its own (redis.asyncio, no read timeout: the channel
        may be quiet for hours; a health check finds a dead connection). A lost Redis
        ends the iteration with ControlUnavailableError: announcements may have been
        missed, so read everything again before subscribing anew.
        """
        import redis.asyncio as aioredis

        client = aioredis.Redis.from_url(self._url, decode_responses=True, health_check_interval=30)
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(self.channel)
            async for message in pubsub.listen():
                try:
                    name = json.loads(str(message["data"]))["name"]
                except (ValueError, KeyError, TypeError):
                    continue  # not a breaker's announcement
                if isinstance(name, str):
                    yield name
        except (self._redis_py.RedisError, OSError) as exc:
            detail = self._redactor.redact(f"{type(exc).__name__}: {exc}")
            raise ControlUnavailableError(
                f"circuit breakers: Redis at {self.display_url} unavailable ({detail})"
            ) from None
        finally:
            # Closing must not hang on a connection the server dropped: a stop once waited
            # for good here after a Redis restart (no read timeout on this connection).
            await _close_within(pubsub.aclose(), self.timeout_s)  # type: ignore[no-untyped-call]
            await _close_within(client.aclose(), self.timeout_s)

    def close(self) -> None:
        """Close the connection."""
        self._sync.close()

    def _read(self, name: str) -> BreakerView | None:
        """Return the breaker's view, None when it has no hash (READ creates nothing)."""
        snapshot = self._sync.read(name, self.timeout_s)
        if snapshot is not None and not snapshot.exists:
            return None
        return BreakerView.of(name, snapshot)  # a None snapshot: a hash in an unknown state

    def _list(self) -> list[BreakerView]:
        views = (self._read(name) for name in self._sync.names())
        return [view for view in views if view is not None]  # deleted since the SCAN

    async def _run(self, work: Callable[[], _T]) -> _T:
        try:
            return await asyncio.to_thread(work)
        except (self._redis_py.RedisError, OSError) as exc:
            detail = self._redactor.redact(f"{type(exc).__name__}: {exc}")
            raise ControlUnavailableError(
                f"circuit breakers: Redis at {self.display_url} unavailable ({detail})"
            ) from None


async def _close_within(closing: Awaitable[object], timeout_s: float) -> None:
    """Await ``closing`` for at most ``timeout_s``; a close that fails or hangs is dropped."""
    with contextlib.suppress(Exception):
        async with asyncio.timeout(timeout_s):
            await closing
