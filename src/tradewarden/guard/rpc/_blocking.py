"""The RPC pool for synchronous bots: one ``RpcPool`` on a private event loop thread.

One implementation of the ranking, breakers and failover rules, not two: a blocking call
hands its request to the pool's loop and waits for the answer. The hop costs tens of
microseconds; an RPC call costs milliseconds.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Sequence
from types import TracebackType
from typing import Any, Self, TypeVar

from tradewarden.guard.rpc._endpoint import Endpoint
from tradewarden.guard.rpc._pool import EndpointStatus, RpcPool

__all__ = ["BlockingRpcPool"]

T = TypeVar("T")


class BlockingRpcPool:
    """``RpcPool`` with blocking methods; takes the same arguments. Close it when done."""

    def __init__(self, endpoints: Sequence[Endpoint], **options: Any) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="tradewarden-rpc-pool", daemon=True
        )
        self._thread.start()
        self._closed = False

        async def build() -> RpcPool:
            return RpcPool(endpoints, **options)

        try:
            self._pool = self._run(build())
        except BaseException:
            self._stop_loop()
            raise

    def __repr__(self) -> str:
        return f"Blocking{self._pool!r}"

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def pool(self) -> RpcPool:
        """Return the asyncio pool underneath (its methods run on the pool's own loop only)."""
        return self._pool

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        if self._closed:
            coroutine.close()
            raise RuntimeError("the RPC pool is closed")
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    def start(self) -> None:
        """Sample every endpoint once, then keep sampling in the pool's thread."""
        self._run(self._pool.start())

    def sample(self) -> None:
        """Ping every endpoint once and re-rank."""
        self._run(self._pool.sample())

    def request(self, method: str, params: Any = None) -> Any:
        """Call ``method`` as ``RpcPool.request`` does, blocking until it is done."""
        return self._run(self._pool.request(method, params))

    def status(self) -> list[EndpointStatus]:
        """Return every endpoint, best-ranked first."""

        async def read() -> list[EndpointStatus]:
            return self._pool.status()

        return self._run(read())

    def close(self) -> None:
        """Stop sampling, close the transport and end the pool's thread."""
        if self._closed:
            return
        try:
            self._run(self._pool.aclose())
        finally:
            self._stop_loop()

    def _stop_loop(self) -> None:
        self._closed = True
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()
