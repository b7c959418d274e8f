"""The Redis back end: processes anywhere share one key and hear changes by pub/sub.

Layout (``prefix`` defaults to ``tradewarden:trading``), readable with ``redis-cli``::

    GET     <prefix>:state      the current change as JSON (version, state, actor, ...)
    LRANGE  <prefix>:history    the changes, newest first, trimmed to ``history_limit``
    PUBLISH <prefix>:changes    each stored change's JSON, for every watching process

A write is one Lua script (compare the stored version, SET, LPUSH, LTRIM, PUBLISH), so the
compare-and-set, the history and the announcement are atomic. Each watch holds a pub/sub
connection in a thread of its own: a change reaches every process in about one network
round trip. On losing Redis the watch reports ``state_unavailable`` and reconnects; on
reconnecting it re-reads the state, and if Redis came back with less than this process
last saw (a restart without persistence), writes the last change seen back, so a HALTED
survives a Redis restart as long as one guard process is alive. Without any process
alive, only Redis's own persistence (AOF/RDB) keeps it. The highest version wins.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from tradewarden.guard.state._errors import StateUnavailableError, VersionConflictError
from tradewarden.guard.state._guarded import WatchThread
from tradewarden.guard.state._port import StateWatcher, Subscription
from tradewarden.guard.state._record import INITIAL_STATE, StateChange

if TYPE_CHECKING:
    import redis

__all__ = ["RedisBackend"]

_log = logging.getLogger("tradewarden.guard.state")

_WRITE = """
local current = redis.call('GET', KEYS[1])
local version = 0
if current then
  local ok, decoded = pcall(cjson.decode, current)
  if not ok or type(decoded) ~= 'table' or type(decoded['version']) ~= 'number' then
    return -2
  end
  version = decoded['version']
end
if version ~= tonumber(ARGV[2]) then
  return version
end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('LPUSH', KEYS[2], ARGV[1])
redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[3]) - 1)
redis.call('PUBLISH', ARGV[4], ARGV[1])
return -1
"""
_STORED = -1
_CORRUPT = -2


class _Watch(WatchThread):
    """One pub/sub connection in a thread, reconnecting and re-syncing after a loss."""

    def __init__(self, backend: RedisBackend, watcher: StateWatcher) -> None:
        self._backend = backend
        super().__init__(watcher, backend.prefix)

    def _run(self) -> None:
        import redis

        backend = self._backend
        failing = False
        delay_s = backend.reconnect_interval_s
        while not self._stop.is_set():
            pubsub = backend._client.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
            try:
                pubsub.subscribe(backend.channel)
                delivered = backend._resync()
                failing = False
                delay_s = backend.reconnect_interval_s
                self._watcher.state_changed(delivered)
                next_resync = time.monotonic() + backend.resync_interval_s
                while not self._stop.is_set():
                    message = pubsub.get_message(timeout=0.1)
                    if message is not None and message.get("type") == "message":
                        change = StateChange.from_json(message["data"])
                        backend._saw(change)
                        if change.version > delivered.version:
                            delivered = change
                            self._watcher.state_changed(change)
                    if time.monotonic() >= next_resync:
                        # Pub/sub is at most once: a periodic read catches anything missed.
                        current = backend._resync()
                        if current.version != delivered.version:
                            delivered = current
                            self._watcher.state_changed(current)
                        next_resync = time.monotonic() + backend.resync_interval_s
            except (redis.RedisError, OSError, StateUnavailableError) as exc:
                if not failing:
                    failing = True
                    error = exc if isinstance(exc, StateUnavailableError) else _unavailable(exc)
                    self._watcher.state_unavailable(error)
                self._stop.wait(delay_s)
                delay_s = min(delay_s * 2, 1.0)
            finally:
                with contextlib.suppress(redis.RedisError, OSError):
                    pubsub.close()


def _unavailable(exc: Exception) -> StateUnavailableError:
    error = StateUnavailableError(f"trading state in Redis cannot be used: {exc}")
    error.__cause__ = exc
    return error


class RedisBackend:
    """Keep the trading state in Redis; every watching process hears each change.

    Needs ``redis`` (``pip install tradewarden[redis]``), imported here and nowhere else.
    ``client`` may be the bot's own ``redis.Redis`` (sync); otherwise one is made from
    ``url`` with short timeouts, so a lost Redis is noticed within ``socket_timeout_s``.
    """

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        prefix: str = "tradewarden:trading",
        client: redis.Redis | None = None,
        history_limit: int = 1000,
        socket_timeout_s: float = 1.0,
        reconnect_interval_s: float = 0.05,
        resync_interval_s: float = 5.0,
    ) -> None:
        try:
            import redis
        except ImportError as exc:  # pragma: no cover - depends on the installation
            raise ImportError(
                "RedisBackend needs redis-py: pip install 'tradewarden[redis]'"
            ) from exc
        if history_limit < 1:
            raise ValueError("history_limit must be at least 1")
        self.prefix = prefix
        self.state_key = f"{prefix}:state"
        self.history_key = f"{prefix}:history"
        self.channel = f"{prefix}:changes"
        self.history_limit = history_limit
        self.reconnect_interval_s = reconnect_interval_s
        self.resync_interval_s = resync_interval_s
        self._owns_client = client is None
        self._client: redis.Redis = client or redis.Redis.from_url(
            url,
            socket_timeout=socket_timeout_s,
            socket_connect_timeout=socket_timeout_s,
        )
        self._errors: tuple[type[Exception], ...] = (redis.RedisError, OSError)
        self._script = self._client.register_script(_WRITE)
        self._lock = threading.Lock()
        self._last_seen: StateChange | None = None
        self._watches: list[_Watch] = []

    def load(self) -> StateChange | None:
        """Return the current change, or None when the key does not exist."""
        try:
            raw = self._client.get(self.state_key)
        except self._errors as exc:
            raise _unavailable(exc) from exc
        if raw is None:
            return None
        change = StateChange.from_json(raw)
        self._saw(change)
        return change

    def write(self, change: StateChange, *, expected_version: int) -> None:
        """Store and publish ``change`` if the stored version is ``expected_version``."""
        if change.version <= expected_version:
            raise ValueError("a new change must have a higher version")
        try:
            result: Any = self._script(
                keys=[self.state_key, self.history_key],
                args=[change.to_json(), expected_version, self.history_limit, self.channel],
            )
        except self._errors as exc:
            raise _unavailable(exc) from exc
        outcome = int(result)
        if outcome == _CORRUPT:
            raise StateUnavailableError(f"{self.state_key} in Redis is not a trading state")
        if outcome != _STORED:
            raise VersionConflictError(expected_version, outcome)
        self._saw(change)

    def history(self, limit: int = 100) -> list[StateChange]:
        """Return up to ``limit`` changes, newest first."""
        try:
            raws: Any = self._client.lrange(self.history_key, 0, limit - 1)
        except self._errors as exc:
            raise _unavailable(exc) from exc
        return [StateChange.from_json(raw) for raw in raws]

    def watch(self, watcher: StateWatcher) -> Subscription:
        """Subscribe in a thread of its own and tell ``watcher`` about changes."""
        watch = _Watch(self, watcher)
        with self._lock:
            self._watches.append(watch)
        return watch

    def close(self) -> None:
        """Stop the watches; close the client if this back end made it."""
        with self._lock:
            watches, self._watches = self._watches, []
        for watch in watches:
            watch.close()
        if self._owns_client:
            self._client.close()

    def _saw(self, change: StateChange) -> None:
        with self._lock:
            if self._last_seen is None or change.version > self._last_seen.version:
                self._last_seen = change

    def _resync(self) -> StateChange:
        """Read the state; if Redis holds less than this process last saw, write it back."""
        current = self.load()
        with self._lock:
            last = self._last_seen
        if last is None or (current is not None and current.version >= last.version):
            return current or INITIAL_STATE
        try:
            self.write(last, expected_version=current.version if current else 0)
        except VersionConflictError:
            return self.load() or INITIAL_STATE
        _log.warning(
            "trading state: Redis held version %s, re-wrote version %d (%s) seen before",
            current.version if current else "none",
            last.version,
            last.state.name,
        )
        return last
