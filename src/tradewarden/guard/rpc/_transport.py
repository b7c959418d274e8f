"""The transport port: POST a JSON-RPC body to a URL, get the HTTP reply back.

Any client fits (a bot may plug in the one it already has); ``HttpxTransport`` is the
default, imported lazily (``pip install tradewarden[rpc]``). A transport raises
``TransportFailure`` with a reason that names no URL, and says whether the request
surely never left (``delivered=False``: the connection was refused or never made), which
is what lets a transaction be sent to another endpoint without a double send.

httpx logs every request's URL at INFO on the ``httpx`` logger, API key and all.
``HttpxTransport`` attaches a filter of its own to that logger (and to nothing else) that
rewrites the URLs it posted to: to the provider's name when given one, else to the bare
origin. Other URLs httpx logs are left alone; closing the transport removes the filter.
"""

from __future__ import annotations

import asyncio
import logging
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


class _UrlLogFilter(logging.Filter):
    """Rewrite the URLs one transport posted to, in the records of the ``httpx`` logger."""

    def __init__(self) -> None:
        super().__init__()
        self.labels: dict[str, str] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        labels = self.labels
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(labels.get(str(arg), arg) for arg in record.args)
        if isinstance(record.msg, str):
            for url, label in labels.items():
                if url in record.msg:
                    record.msg = record.msg.replace(url, label)
        return True


class HttpxTransport:
    """The default transport: one ``httpx.AsyncClient`` for every endpoint.

    ``names`` maps endpoint URLs to provider names for httpx's request log; a URL without
    a name is logged as its origin (``https://host:port/...``), never with its path or query.
    """

    def __init__(
        self, client: httpx.AsyncClient | None = None, *, names: Mapping[str, str] | None = None
    ) -> None:
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
        self._names = dict(names or {})
        self._filter = _UrlLogFilter()
        self.install_log_filter()

    def __repr__(self) -> str:
        return "HttpxTransport()"

    @property
    def log_filter(self) -> logging.Filter:
        """Return the filter this transport attaches to the ``httpx`` logger."""
        return self._filter

    def install_log_filter(self) -> None:
        """Attach the filter to the ``httpx`` logger (again: nothing changes)."""
        logging.getLogger("httpx").addFilter(self._filter)

    def remove_log_filter(self) -> None:
        """Detach the filter (done by ``aclose``)."""
        logging.getLogger("httpx").removeFilter(self._filter)

    def _label(self, url: str) -> None:
        """Teach the filter how to log ``url`` before httpx first logs it."""
        if url in self._filter.labels:
            return
        parsed = self._httpx.URL(url)
        label = self._names.get(url)
        if label is None:
            port = f":{parsed.port}" if parsed.port is not None else ""
            label = f"{parsed.scheme}://{parsed.host}{port}/..."
        # httpx logs its normalised form of the URL; the raw one is kept for a message
        # that quotes it as given.
        self._filter.labels[str(parsed)] = label
        self._filter.labels[url] = label

    async def post(
        self, url: str, body: bytes, *, headers: Mapping[str, str], timeout_s: float
    ) -> HttpReply:
        """POST ``body``; raise TransportFailure (no URL in it) when no answer comes."""
        httpx = self._httpx
        self._label(url)
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
        """Remove the log filter; close the client if this transport made it."""
        self.remove_log_filter()
        if self._owned:
            await self._client.aclose()
