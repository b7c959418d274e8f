"""Errors of the RPC pool: each names its provider (never its URL) and carries its failure.

TradewardenError
└── RpcError                      base; ``provider``, ``failure`` (classified), ``permanent``
    ├── RpcTransportError         no answer: timeout, refused, reset (``delivered``, ``timeout``)
    ├── RpcHttpError              an HTTP error status (5xx, 401, 429 ...; ``status``)
    ├── RpcProtocolError          an answer that is not JSON-RPC
    ├── RpcResponseError          a JSON-RPC error object (``code``, ``data``: logs and all)
    ├── RpcOutcomeUnknownError    a send whose fate is unknown: check before sending again
    └── NoEndpointAvailableError  every endpoint failed, was open or rate limited
"""

from __future__ import annotations

from typing import Any

from tradewarden.errors import TradewardenError
from tradewarden.guard.retry import Failure

__all__ = [
    "NoEndpointAvailableError",
    "RpcError",
    "RpcHttpError",
    "RpcOutcomeUnknownError",
    "RpcProtocolError",
    "RpcResponseError",
    "RpcTransportError",
]


class RpcError(TradewardenError):
    """A JSON-RPC call failed; ``failure`` says how and what to do about it."""

    def __init__(
        self, message: str, *, provider: str | None, method: str, failure: Failure
    ) -> None:
        super().__init__(message, permanent=not failure.retryable)
        self.provider = provider
        self.method = method
        self.failure = failure


class RpcTransportError(RpcError):
    """No answer came back. ``delivered`` is False only when the request surely never left."""

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        method: str,
        failure: Failure,
        timeout: bool,
        delivered: bool,
    ) -> None:
        super().__init__(message, provider=provider, method=method, failure=failure)
        self.timeout = timeout
        self.delivered = delivered


class RpcHttpError(RpcError):
    """The endpoint answered with an HTTP error status."""

    def __init__(
        self, message: str, *, provider: str, method: str, failure: Failure, status: int
    ) -> None:
        super().__init__(message, provider=provider, method=method, failure=failure)
        self.status = status


class RpcProtocolError(RpcError):
    """The endpoint answered with something that is not a JSON-RPC response."""


class RpcResponseError(RpcError):
    """The endpoint answered with a JSON-RPC error object."""

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        method: str,
        failure: Failure,
        code: int | None,
        data: Any,
    ) -> None:
        super().__init__(message, provider=provider, method=method, failure=failure)
        self.code = code
        self.data = data


class RpcOutcomeUnknownError(RpcError):
    """A transaction was sent and may have been received: not re-sent anywhere."""


class NoEndpointAvailableError(RpcError):
    """Every endpoint failed, was open or is rate limited; ``errors`` holds each one's."""

    def __init__(
        self, message: str, *, method: str, failure: Failure, errors: tuple[RpcError, ...]
    ) -> None:
        super().__init__(message, provider=None, method=method, failure=failure)
        self.errors = errors
