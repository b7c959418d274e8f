"""The heartbeat clients: ``HeartbeatClient`` sends from a daemon thread,
``AsyncHeartbeatClient`` from a task on the bot's loop. ``ping``, ``start`` and ``fail``
only put a ping in the outbox: they never wait for the warden and never raise for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import logging
import random
import threading
from collections.abc import Callable, Coroutine
from types import TracebackType
from typing import Any, ParamSpec, TypeVar, cast

from tradewarden.guard.heartbeat._core import (
    HeartbeatConfig,
    HeartbeatStats,
    Outbox,
    Ping,
    PingKind,
    backoff_s,
    describe_error,
    retry_after_s,
    retryable,
)
from tradewarden.guard.heartbeat._transport import PingTransport, TransportError, UrllibTransport

__all__ = ["AsyncHeartbeatClient", "HeartbeatClient", "HeartbeatRun"]

log = logging.getLogger("tradewarden.guard.heartbeat")

P = ParamSpec("P")
R = TypeVar("R")


class _Client:
    """The outbox, the counters and the sending rules; the subclasses own the sender."""

    def __init__(
        self,
        config: HeartbeatConfig,
        *,
        transport: PingTransport | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self._transport: PingTransport = transport or UrllibTransport()
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not secrecy
        self._outbox = Outbox(config.max_queue)
        self._failures = 0
        self._closing = False
        # Where pings go, for log lines: scheme, host and port only.
        self._where = config.url.rstrip("/")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.config.name!r}, url={self._where!r})"

    @property
    def stats(self) -> HeartbeatStats:
        """Return what this client has sent, dropped and queued so far."""
        return self._outbox.stats()

    def ping(self, message: str | None = None) -> None:
        """Queue a success ping (a sign of life, or the end of a run)."""
        self._queue(Ping(PingKind.SUCCESS, message))

    def start(self) -> None:
        """Queue a start ping: the next success ping measures the run's duration."""
        self._queue(Ping(PingKind.START))

    def fail(self, message: str | None = None) -> None:
        """Queue a fail ping: the warden marks the heartbeat DOWN at once."""
        self._queue(Ping(PingKind.FAIL, message))

    def run(self) -> HeartbeatRun:
        """Return a context manager and decorator: start, then success or fail."""
        return HeartbeatRun(self)

    def _queue(self, ping: Ping) -> None:
        if self._closing:
            return
        self._outbox.put(ping)
        self._wake()

    def _wake(self) -> None:
        raise NotImplementedError

    def _attempt(self, ping: Ping) -> float | None:
        """Send ``ping`` once; return None when done with it, else the wait before a retry."""
        request = self.config.request(ping)
        try:
            status, retry_after = self._transport.send(request, self.config.timeout_s)
        except TransportError as exc:
            return self._failed(str(exc), None)
        except Exception as exc:  # noqa: BLE001 - a transport's bug must not end the sender
            return self._failed(describe_error(exc), None)
        if status < 300:
            with self._outbox.lock:
                self._outbox.sent += 1
            if self._failures:
                log.info(
                    "heartbeat %r: the warden at %s answers again", self.config.name, self._where
                )
            self._failures = 0
            return None
        if retryable(status):
            return self._failed(f"HTTP {status}", retry_after_s(retry_after, self.config))
        with self._outbox.lock:
            self._outbox.rejected += 1
            self._outbox.last_error = f"HTTP {status}"
        log.warning(
            "heartbeat %r: the warden at %s refused a %s ping with HTTP %d (%s); dropped",
            self.config.name,
            self._where,
            ping.kind.value,
            status,
            "check the token" if status in {401, 403} else "check the heartbeat's name",
        )
        return None

    def _failed(self, error: str, wait_s: float | None) -> float:
        self._failures += 1
        with self._outbox.lock:
            self._outbox.failed_attempts += 1
            self._outbox.last_error = error
        if self._failures == 1:
            log.warning(
                "heartbeat %r: the warden at %s did not take a ping (%s); retrying in the "
                "background",
                self.config.name,
                self._where,
                error,
            )
        return wait_s if wait_s is not None else backoff_s(self._failures, self.config, self._rng)


class HeartbeatClient(_Client):
    """Heartbeats sent from a daemon thread (started by the first ping).

    ``close()`` sends what is queued for up to ``timeout_s`` and stops the thread.
    """

    def __init__(
        self,
        config: HeartbeatConfig,
        *,
        transport: PingTransport | None = None,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__(config, transport=transport, rng=rng)
        self._condition = threading.Condition()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> HeartbeatClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _wake(self) -> None:
        with self._condition:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._send_forever, name="tradewarden-heartbeat", daemon=True
                )
                self._thread.start()
            self._condition.notify()

    def _send_forever(self) -> None:
        while True:
            with self._condition:
                self._condition.wait_for(lambda: len(self._outbox) > 0 or self._closing)
            ping = self._outbox.take()
            if ping is None:
                return  # closing, nothing left
            wait_s = self._attempt(ping)
            if wait_s is None:
                continue
            self._outbox.put_back(ping)
            with self._condition:
                if self._closing:
                    return
                self._condition.wait_for(lambda: self._closing, timeout=wait_s)
                if self._closing:
                    return

    def close(self, timeout_s: float = 2.0) -> None:
        """Send what is queued (one try each, within ``timeout_s``), then stop."""
        with self._condition:
            self._closing = True
            self._condition.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout_s)


class AsyncHeartbeatClient(_Client):
    """Heartbeats sent by a task on the running loop (created by the first ping).

    Call ``ping``/``start``/``fail`` from the loop's thread; the blocking HTTP call runs in
    the loop's default executor, bounded by ``timeout_s``. ``await aclose()`` at the end.
    """

    def __init__(
        self,
        config: HeartbeatConfig,
        *,
        transport: PingTransport | None = None,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__(config, transport=transport, rng=rng)
        self._event = asyncio.Event()  # bound to a loop at first use, not here
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> AsyncHeartbeatClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def _wake(self) -> None:
        self._event.set()
        if self._task is None:
            try:
                self._task = asyncio.get_running_loop().create_task(self._send_forever())
            except RuntimeError:
                log.warning("heartbeat %r: no running event loop; ping kept", self.config.name)

    async def _send_forever(self) -> None:
        while True:
            await self._event.wait()
            self._event.clear()
            while (ping := self._outbox.take()) is not None:
                wait_s = await asyncio.to_thread(self._attempt, ping)
                if wait_s is None:
                    continue
                self._outbox.put_back(ping)
                if self._closing:
                    return
                self._event.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._closed_or_woken(), timeout=wait_s)
                if self._closing:
                    return
            if self._closing:
                return

    async def _closed_or_woken(self) -> None:
        # Woken early only by aclose(): a new ping does not cut a backoff short.
        while not self._closing:
            await self._event.wait()
            self._event.clear()

    async def aclose(self, timeout_s: float = 2.0) -> None:
        """Send what is queued (one try each, within ``timeout_s``), then stop the task."""
        self._closing = True
        self._event.set()
        task, self._task = self._task, None
        if task is None:
            return
        _, pending = await asyncio.wait({task}, timeout=timeout_s)
        for late in pending:
            late.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


class HeartbeatRun:
    """``with client.run():``, ``async with client.run():`` or ``@client.run()``: a start
    ping, then a success ping, or a fail ping naming the exception (which propagates).

    ``KeyboardInterrupt``, ``SystemExit`` and cancellation send nothing: a stop is not a
    failed run.
    """

    def __init__(self, client: _Client) -> None:
        self._client = client

    def __enter__(self) -> HeartbeatRun:
        self._client.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            self._client.ping()
        elif isinstance(exc, Exception):
            self._client.fail(describe_error(exc))

    async def __aenter__(self) -> HeartbeatRun:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)

    def __call__(self, fn: Callable[P, R]) -> Callable[P, R]:
        if inspect.iscoroutinefunction(fn):
            coroutine_fn: Callable[P, Coroutine[Any, Any, Any]] = fn

            @functools.wraps(fn)
            async def async_wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
                with self:
                    return await coroutine_fn(*args, **kwargs)

            return cast(Callable[P, R], async_wrapper)

        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            with self:
                return fn(*args, **kwargs)

        return wrapper
