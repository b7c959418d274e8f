"""How a ping reaches the warden: one blocking call, standard library only."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

__all__ = ["PingRequest", "PingTransport", "TransportError", "UrllibTransport"]


@dataclass(frozen=True, slots=True)
class PingRequest:
    """One HTTP request to the warden (the headers carry the credential: never log them)."""

    url: str
    headers: Mapping[str, str] = field(repr=False)
    body: bytes = b""


class TransportError(Exception):
    """The request got no HTTP answer (refused, reset, timed out)."""


class PingTransport(Protocol):
    """Send one request within ``timeout_s``; return the HTTP status and ``Retry-After``."""

    def send(self, request: PingRequest, timeout_s: float) -> tuple[int, str | None]:
        """Return ``(status, retry_after)``; raise ``TransportError`` without an answer."""
        ...


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # A redirect would carry the token header to wherever it points.
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


class UrllibTransport:
    """``PingTransport`` on ``urllib.request`` (no proxies from the environment, no redirects)."""

    def __init__(self) -> None:
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())

    def send(self, request: PingRequest, timeout_s: float) -> tuple[int, str | None]:
        """Return ``(status, retry_after)``; raise ``TransportError`` without an answer."""
        http = urllib.request.Request(  # noqa: S310 - the URL is checked to be http(s)
            request.url, data=request.body, headers=dict(request.headers), method="POST"
        )
        try:
            with self._opener.open(http, timeout=timeout_s) as response:
                response.read()
                return int(response.status), response.headers.get("Retry-After")
        except urllib.error.HTTPError as exc:
            with exc:
                return int(exc.code), exc.headers.get("Retry-After")
        except (OSError, ValueError) as exc:
            # URLError, timeouts, resets; the message names the host, never the headers.
            reason = getattr(exc, "reason", exc)
            raise TransportError(f"{type(reason).__name__}: {reason}") from None
