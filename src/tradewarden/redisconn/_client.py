"""ManagedRedis: one async Redis client with a status, background reconnects and statistics.

Two connection paths, on purpose:

- commands (``execute`` and whoever uses ``client``) go through a blocking connection pool
  of ``max_connections``;
- health PINGs (the background loop and ``ping``) go through one dedicated connection, so
  a pool full of blocking commands (BLPOP, XREAD) is never mistaken for Redis being down.
"""

from __future__ import annotations

import asyncio
import logging

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from tradewarden.clock import Clock, SystemClock
from tradewarden.errors import ConfigError
from tradewarden.redisconn._errors import RedisUnavailableError
from tradewarden.redisconn._stats import RedisPoolStats, RedisStatus
from tradewarden.redisconn._url import Redactor

__all__ = ["ManagedRedis"]

logger = logging.getLogger("tradewarden.redis")

_BACKOFF_FIRST_S = 0.1
_BACKOFF_MAX_S = 2.0

# Errors that mean "no usable connection": the builtin TimeoutError (from asyncio.timeout)
# is an OSError.
_CONNECTION_ERRORS = (RedisConnectionError, RedisTimeoutError, OSError)
# A PING that fails in any way (NOAUTH, LOADING, MISCONF ...) means "not ready".
_PROBE_ERRORS = (RedisError, OSError)


class ManagedRedis:
    """Own one Redis client: connect, watch, reconnect, queue while offline, report.

    Status: ``connecting`` until the first PING succeeds, ``ready`` while PINGs and
    commands succeed, ``reconnecting`` after a connection error (a background task retries
    with backoff from 0.1 s doubling to 2 s), ``end`` after ``close()``.
    """

    def __init__(
        self,
        url: str,
        *,
        clock: Clock | None = None,
        connect_timeout_s: float = 2.0,
        health_check_interval_s: float = 5.0,
        max_connections: int = 50,
        offline_queue_timeout_s: float = 2.0,
    ) -> None:
        for name, value in (
            ("connect_timeout_s", connect_timeout_s),
            ("health_check_interval_s", health_check_interval_s),
            ("max_connections", max_connections),
            ("offline_queue_timeout_s", offline_queue_timeout_s),
        ):
            if value <= 0:
                raise ValueError(f"{name} must be positive, got {value!r}")
        self._redactor = Redactor(url)
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._connect_timeout_s = connect_timeout_s
        self._health_check_interval_s = health_check_interval_s
        self._offline_queue_timeout_s = offline_queue_timeout_s
        try:
            # Waiting for a free pooled connection is bounded like the offline queue.
            self._pool = aioredis.BlockingConnectionPool.from_url(
                url,
                max_connections=max_connections,
                timeout=offline_queue_timeout_s,
                decode_responses=True,
                socket_connect_timeout=connect_timeout_s,
                # No read timeout: blocking commands (BLPOP 30) must be able to wait; a hung
                # server is caught by the health PING instead.
                socket_timeout=None,
                # One immediate resend covers a pooled connection that died while idle
                # (server restart); anything longer is our reconnect loop's job.
                retry=Retry(NoBackoff(), 1),
            )
            self._probe_client = aioredis.Redis.from_url(
                url,
                single_connection_client=True,
                decode_responses=True,
                socket_connect_timeout=connect_timeout_s,
                socket_timeout=connect_timeout_s,
                retry=Retry(NoBackoff(), 0),
            )
        except ValueError as exc:
            raise ConfigError(
                f"invalid Redis URL {self.display_url}: {self._redactor.redact(str(exc))}"
            ) from None
        self._client = aioredis.Redis.from_pool(self._pool)

        self._status: RedisStatus = "connecting"
        self._status_changed = asyncio.Event()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._command_queue_length = 0
        self._offline_queue_length = 0
        self._reconnects_total = 0
        self._last_error: str | None = None
        self._last_ping_ms: float | None = None

    @property
    def status(self) -> RedisStatus:
        """Return the connection status."""
        return self._status

    @property
    def client(self) -> aioredis.Redis:
        """Return the pooled client (``decode_responses=True``) for code that needs it."""
        return self._client

    @property
    def display_url(self) -> str:
        """Return the URL with any password replaced by ``***``."""
        return self._redactor.display_url

    async def start(self) -> None:
        """Connect once, then keep watching in the background; never raise if Redis is down."""
        if self._status == "end":
            raise RuntimeError("ManagedRedis was closed; create a new one")
        if self._task is not None:
            return
        try:
            await self._probe()
        except _PROBE_ERRORS as exc:
            self._mark_down(exc)
        self._task = asyncio.create_task(self._watch(), name=f"redis-watch {self.display_url}")

    async def close(self) -> None:
        """Stop watching, close every connection and enter ``end``; idempotent."""
        if self._status == "end":
            return
        self._set_status("end")
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        await self._probe_client.aclose()
        await self._client.aclose()

    async def execute(self, command: str, *args: object) -> object:
        """Run one command; while not ready, wait in the offline queue for a connection.

        A command whose connection breaks is sent again once the client is ready, as
        ioredis and redis-py's own retry do; it may therefore reach Redis twice.
        """
        loop = asyncio.get_running_loop()
        deadline: float | None = None
        while True:
            if self._status != "ready":
                if deadline is None:
                    deadline = loop.time() + self._offline_queue_timeout_s
                await self._wait_until_ready(deadline)
                continue
            self._command_queue_length += 1
            try:
                return await _send(self._client, command, *args)
            except RedisConnectionError as exc:
                if _is_pool_exhausted(exc):
                    raise RedisUnavailableError(
                        f"redis {self.display_url}: all {self._pool.max_connections} pooled "
                        f"connections stayed busy for {self._offline_queue_timeout_s:g} s"
                    ) from exc
                self._mark_down(exc)
            except _CONNECTION_ERRORS as exc:
                self._mark_down(exc)
            finally:
                self._command_queue_length -= 1

    async def ping(self) -> float:
        """PING Redis and return the latency in ms; raise RedisUnavailableError when down."""
        if self._status == "end":
            raise RedisUnavailableError(f"redis {self.display_url}: client is closed")
        try:
            return await self._probe()
        except _PROBE_ERRORS as exc:
            self._mark_down(exc)
            raise RedisUnavailableError(
                f"redis {self.display_url} did not answer PING: {self._last_error}"
            ) from exc

    def stats(self) -> RedisPoolStats:
        """Return a snapshot of status, queues and pool usage."""
        # redis-py keeps these counts only in private attributes (no public accessor).
        in_use = len(self._pool._in_use_connections)
        available = len(self._pool._available_connections)
        return RedisPoolStats(
            status=self._status,
            connected=self._status == "ready",
            command_queue_length=self._command_queue_length,
            offline_queue_length=self._offline_queue_length,
            pool_in_use=in_use,
            pool_available=available,
            pool_max=self._pool.max_connections,
            reconnects_total=self._reconnects_total,
            last_error=self._last_error,
            last_ping_ms=self._last_ping_ms,
        )

    async def _watch(self) -> None:
        """PING every health_check_interval_s while ready; reconnect with backoff when not."""
        backoff_s = _BACKOFF_FIRST_S
        while True:
            if self._status == "ready":
                backoff_s = _BACKOFF_FIRST_S
                self._wake.clear()
                # A failing execute() sets _wake, so reconnecting starts at once.
                try:
                    async with asyncio.timeout(self._health_check_interval_s):
                        await self._wake.wait()
                except TimeoutError:
                    pass
                if self._status != "ready":
                    continue
            else:
                await asyncio.sleep(backoff_s)
                backoff_s = min(backoff_s * 2, _BACKOFF_MAX_S)
            try:
                await self._probe()
            except _PROBE_ERRORS as exc:
                self._mark_down(exc)
            except Exception:
                # A bug here must not stop the reconnect loop for good.
                logger.exception("redis %s: health check failed unexpectedly", self.display_url)

    async def _probe(self) -> float:
        """PING over the dedicated connection; on success record latency and become ready."""
        started = self._clock.monotonic()
        async with asyncio.timeout(self._connect_timeout_s):
            await _send(self._probe_client, "PING")
        latency_ms = (self._clock.monotonic() - started) * 1000.0
        self._last_ping_ms = latency_ms
        self._set_status("ready")
        return latency_ms

    async def _wait_until_ready(self, deadline: float) -> None:
        """Wait in the offline queue until ready; raise at the deadline or on close."""
        self._offline_queue_length += 1
        try:
            while self._status != "ready":
                if self._status == "end":
                    raise RedisUnavailableError(f"redis {self.display_url}: client is closed")
                changed = self._status_changed
                try:
                    async with asyncio.timeout_at(deadline):
                        await changed.wait()
                except TimeoutError:
                    raise RedisUnavailableError(
                        f"redis {self.display_url} not ready after "
                        f"{self._offline_queue_timeout_s:g} s ({self._status}): "
                        f"{self._last_error}"
                    ) from None
        finally:
            self._offline_queue_length -= 1

    def _mark_down(self, exc: BaseException) -> None:
        detail = str(exc)
        self._last_error = self._redactor.redact(
            f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
        )
        self._set_status("reconnecting")
        self._wake.set()

    def _set_status(self, new: RedisStatus) -> None:
        old = self._status
        if old in ("end", new):
            return
        self._status = new
        if old == "reconnecting" and new == "ready":
            self._reconnects_total += 1
        # Wake every offline waiter: each re-checks the status it cares about.
        changed, self._status_changed = self._status_changed, asyncio.Event()
        changed.set()
        if new == "reconnecting":
            logger.warning(
                "redis %s: %s -> reconnecting: %s", self.display_url, old, self._last_error
            )
        else:
            logger.info("redis %s: %s -> %s", self.display_url, old, new)


async def _send(client: aioredis.Redis, command: str, *args: object) -> object:
    # redis-py leaves execute_command unannotated; this is the one typed door to it.
    result: object = await client.execute_command(command, *args)  # type: ignore[no-untyped-call]
    return result


def _is_pool_exhausted(exc: RedisConnectionError) -> bool:
    # BlockingConnectionPool raises a plain ConnectionError when no connection frees up in
    # time; it is the only ConnectionError redis-py chains to a bare TimeoutError.
    return isinstance(exc.__cause__, TimeoutError)
