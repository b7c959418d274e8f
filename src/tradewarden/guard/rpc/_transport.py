"""The transport port: POST a JSON-RPC body to a URL, get the HTTP reply back.

Any client fits (a bot may plug in the one it already has); ``HttpxTransport`` is the
default, imported lazily (``pip install tradewarden[rpc]``). A transport raises
``TransportFailure`` with a reason that names no URL, and says whether the request
surely never left (``delivered=False``: the connection was refused or never made), which
is what lets a transaction be sent to another endpoint without a double send.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import httpx

__all__ = ["HttpReply", "HttpxTransport", "Transport", "TransportFailure"]


@dataclass(frozen=True, slots=True)
class HttpReply:
    """An HTTP answer: status, headers (lower-case names) and body."""

    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)


class TransportFailure(Exception):  # noqa: N818 - a port's signal, turned into RpcTransportError
    """No HTTP answer. ``reason`` is safe to show (no URL)."""

    def __init__(self, reason: str, *, timeout: bool, delivered: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.timeout = timeout
        self.delivered = delivered


class Transport(Protocol):
    """POST bodies; close when done."""

    async def post(
        self, url: str, body: bytes, *, headers: Mapping[str, str], timeout_s: float
    ) -> HttpReply:
        """Send ``body`` to ``url`` and return the reply within ``timeout_s``."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


class HttpxTransport:
    """The default transport: one ``httpx.AsyncClient`` for every endpoint."""

    def __init__(self, client: httpx.AsyncClient | None = None) -> None:
        try:
            import httpx
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise ImportError(
                "the RPC pool's default transport needs httpx: pip install 'tradewarden[rpc]' "
                "(or pass your own transport)"
            ) from exc
        self._httpx = httpx
        self._owned = client is None
        self._client = client or httpx.AsyncClient(follow_redirects=False)

    def __repr__(self) -> str:
        return "HttpxTransport()"

    async def post(
        self, url: str, body: bytes, *, headers: Mapping[str, str], timeout_s: float
    ) -> HttpReply:
        """POST ``body``; raise TransportFailure (no URL in it) when no answer comes."""
        httpx = self._httpx
        sent_headers = {"content-type": "application/json", **headers}
        try:
            # httpx's timeouts are per phase; the whole exchange is bounded too.
            async with asyncio.timeout(timeout_s):
                response = await self._client.post(
                    url, content=body, headers=sent_headers, timeout=timeout_s
                )
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            timeout = isinstance(exc, httpx.TimeoutException)
            raise TransportFailure(type(exc).__name__, timeout=timeout, delivered=False) from None
        except httpx.TimeoutException as exc:
            raise TransportFailure(type(exc).__name__, timeout=True, delivered=True) from None
        except TimeoutError:
            raise TransportFailure("timed out", timeout=True, delivered=True) from None
        except httpx.TransportError as exc:
            raise TransportFailure(type(exc).__name__, timeout=False, delivered=True) from None
        return HttpReply(response.status_code, response.content, dict(response.headers))

    async def aclose(self) -> None:
        """Close the client if this transport made it."""
        if self._owned:
            await self._client.aclose()
