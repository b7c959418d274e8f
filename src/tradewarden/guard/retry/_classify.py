"""Classify a Solana, JSON-RPC or exchange failure into what to do about it.

A pure function over an exception, a JSON-RPC error object (``code``, ``message``,
``data``), a simulation result (``err``, ``logs``) or the HTTP status an RPC node answered
with. The tables below are the whole policy: each failure kind maps to one action.

The shapes are Agave's: ``sendTransaction`` refused in preflight answers -32002 with the
simulation in ``data`` (``{"err": "BlockhashNotFound", "logs": [...], ...}``, or
``{"err": {"InstructionError": [2, {"Custom": 6001}]}, ...}``); a node behind answers
-32005 ``Node is behind by N slots``; the public endpoints answer HTTP 429 with a
``Retry-After`` header and a JSON-RPC error with code 429. ccxt exceptions are matched by
class name (most specific first, along the class's MRO), so ccxt is not a dependency.

What the classifier does not understand is permanent: retrying an order nobody
understood the failure of is how a bot trades twice.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

__all__ = ["Action", "Failure", "FailureKind", "classify", "classify_rpc_error"]


class Action(StrEnum):
    """What to do before the next attempt."""

    RETRY = "retry"  # back off and try again
    REFRESH_BLOCKHASH = "refresh_blockhash"  # fetch a new blockhash, re-sign, try again
    RAISE_FEE = "raise_fee"  # rebuild at the next priority fee level (fresh blockhash too)
    WAIT_RETRY_AFTER = "wait_retry_after"  # wait as long as the server asked, then retry
    SWITCH_ENDPOINT = "switch_endpoint"  # this node cannot answer now; another one may
    FAIL = "fail"  # permanent: retrying cannot help


class FailureKind(StrEnum):
    """What went wrong, in trading terms."""

    BLOCKHASH_NOT_FOUND = "blockhash_not_found"
    FEE_TOO_LOW = "fee_too_low"
    ACCOUNT_IN_USE = "account_in_use"
    RATE_LIMITED = "rate_limited"
    NODE_UNHEALTHY = "node_unhealthy"
    NODE_CANNOT_ANSWER = "node_cannot_answer"
    SERVER_ERROR = "server_error"
    ENDPOINT_REFUSED = "endpoint_refused"
    TIMEOUT = "timeout"
    NETWORK = "network"
    EXCHANGE_UNAVAILABLE = "exchange_unavailable"
    NO_ENDPOINT_AVAILABLE = "no_endpoint_available"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    SLIPPAGE_EXCEEDED = "slippage_exceeded"
    SIMULATION_FAILED = "simulation_failed"
    ALREADY_PROCESSED = "already_processed"
    OUTCOME_UNKNOWN = "outcome_unknown"
    INVALID_ORDER = "invalid_order"
    AUTHENTICATION = "authentication"
    REQUEST_REJECTED = "request_rejected"
    UNKNOWN = "unknown"


ACTIONS: Mapping[FailureKind, Action] = {
    FailureKind.BLOCKHASH_NOT_FOUND: Action.REFRESH_BLOCKHASH,
    FailureKind.FEE_TOO_LOW: Action.RAISE_FEE,
    FailureKind.ACCOUNT_IN_USE: Action.RETRY,
    FailureKind.RATE_LIMITED: Action.WAIT_RETRY_AFTER,
    FailureKind.NODE_UNHEALTHY: Action.SWITCH_ENDPOINT,
    FailureKind.NODE_CANNOT_ANSWER: Action.SWITCH_ENDPOINT,
    FailureKind.SERVER_ERROR: Action.SWITCH_ENDPOINT,
    # A 401/403 from one RPC provider is that provider's key; another may be fine.
    FailureKind.ENDPOINT_REFUSED: Action.SWITCH_ENDPOINT,
    FailureKind.TIMEOUT: Action.RETRY,
    FailureKind.NETWORK: Action.RETRY,
    FailureKind.EXCHANGE_UNAVAILABLE: Action.RETRY,
    # Every endpoint of a pool failed, was open or rate limited: back off, ask again.
    FailureKind.NO_ENDPOINT_AVAILABLE: Action.RETRY,
    FailureKind.INSUFFICIENT_FUNDS: Action.FAIL,
    FailureKind.SLIPPAGE_EXCEEDED: Action.FAIL,
    FailureKind.SIMULATION_FAILED: Action.FAIL,
    FailureKind.ALREADY_PROCESSED: Action.FAIL,
    # The transaction may still land: re-sending blindly could trade twice.
    FailureKind.OUTCOME_UNKNOWN: Action.FAIL,
    FailureKind.INVALID_ORDER: Action.FAIL,
    FailureKind.AUTHENTICATION: Action.FAIL,
    FailureKind.REQUEST_REJECTED: Action.FAIL,
    FailureKind.UNKNOWN: Action.FAIL,
}

# Failures a bot should show its operator or user, not only log.
SURFACED: frozenset[FailureKind] = frozenset(
    {
        FailureKind.SLIPPAGE_EXCEEDED,
        FailureKind.INSUFFICIENT_FUNDS,
        FailureKind.OUTCOME_UNKNOWN,
        FailureKind.SIMULATION_FAILED,
    }
)


@dataclass(frozen=True, slots=True)
class Failure:
    """A classified failure: its kind, the action it calls for, and what was said."""

    kind: FailureKind
    message: str = ""
    code: int | None = None
    logs: tuple[str, ...] = ()
    retry_after_s: float | None = None

    @property
    def action(self) -> Action:
        """Return what to do about it."""
        return ACTIONS[self.kind]

    @property
    def retryable(self) -> bool:
        """Return whether trying again (after the action) can succeed."""
        return self.action is not Action.FAIL

    @property
    def surfaced(self) -> bool:
        """Return whether the bot should tell a human, not only log it."""
        return self.kind in SURFACED


# --- JSON-RPC codes (Agave's rpc-client-api custom_error.rs, and JSON-RPC 2.0's own) ----

_PREFLIGHT_FAILURE = -32002
CODES: Mapping[int, FailureKind] = {
    -32001: FailureKind.NODE_CANNOT_ANSWER,  # block cleaned up (an archive node may have it)
    -32003: FailureKind.REQUEST_REJECTED,  # transaction signature verification failure
    -32004: FailureKind.NODE_CANNOT_ANSWER,  # block not available for slot
    -32005: FailureKind.NODE_UNHEALTHY,  # node is behind by N slots / node is unhealthy
    -32006: FailureKind.REQUEST_REJECTED,  # precompile verification failure
    -32007: FailureKind.REQUEST_REJECTED,  # slot skipped
    -32008: FailureKind.NODE_CANNOT_ANSWER,  # no snapshot
    -32009: FailureKind.REQUEST_REJECTED,  # slot skipped in long-term storage
    -32010: FailureKind.NODE_CANNOT_ANSWER,  # key excluded from this node's secondary index
    -32011: FailureKind.NODE_CANNOT_ANSWER,  # transaction history not available on this node
    -32013: FailureKind.REQUEST_REJECTED,  # signature length mismatch
    -32014: FailureKind.NODE_CANNOT_ANSWER,  # block status not yet available
    -32015: FailureKind.REQUEST_REJECTED,  # unsupported transaction version
    -32016: FailureKind.NODE_CANNOT_ANSWER,  # minimum context slot not reached
    -32600: FailureKind.REQUEST_REJECTED,  # invalid request
    -32601: FailureKind.REQUEST_REJECTED,  # method not found
    -32602: FailureKind.REQUEST_REJECTED,  # invalid params
    -32603: FailureKind.SERVER_ERROR,  # internal error
    -32700: FailureKind.REQUEST_REJECTED,  # parse error
    429: FailureKind.RATE_LIMITED,  # the public endpoints' body for HTTP 429
    -32429: FailureKind.RATE_LIMITED,  # several providers' rate-limit code
}

# TransactionError variants, as ``err`` carries them (a string, or a one-key object).
TRANSACTION_ERRORS: Mapping[str, FailureKind] = {
    "BlockhashNotFound": FailureKind.BLOCKHASH_NOT_FOUND,
    "AccountInUse": FailureKind.ACCOUNT_IN_USE,
    "InsufficientFundsForFee": FailureKind.INSUFFICIENT_FUNDS,
    "InsufficientFundsForRent": FailureKind.INSUFFICIENT_FUNDS,
    # "Attempt to debit an account but found no record of a prior credit.": an empty payer.
    "AccountNotFound": FailureKind.INSUFFICIENT_FUNDS,
    "AlreadyProcessed": FailureKind.ALREADY_PROCESSED,
}

# Text, in order: the first pattern that matches the message or any log line wins.
PATTERNS: Sequence[tuple[re.Pattern[str], FailureKind]] = [
    (re.compile(p, re.IGNORECASE), kind)
    for p, kind in [
        (r"blockhash not found|blockhash (has )?expired", FailureKind.BLOCKHASH_NOT_FOUND),
        (
            r"block ?height exceeded|priority fee.{0,40}(too low|insufficient)|fee too low",
            FailureKind.FEE_TOO_LOW,
        ),
        (r"account in use", FailureKind.ACCOUNT_IN_USE),
        (r"slippage", FailureKind.SLIPPAGE_EXCEEDED),
        (
            r"insufficient (funds|lamports|balance)|no record of a prior credit",
            FailureKind.INSUFFICIENT_FUNDS,
        ),
        (r"already (been )?processed", FailureKind.ALREADY_PROCESSED),
        (r"too many requests|rate limit", FailureKind.RATE_LIMITED),
        (r"node is (behind|unhealthy)", FailureKind.NODE_UNHEALTHY),
        (r"was not confirmed in", FailureKind.OUTCOME_UNKNOWN),
        (r"simulation failed", FailureKind.SIMULATION_FAILED),
    ]
]

# Exception class names, matched along the MRO (the most specific class first).
EXCEPTION_NAMES: Mapping[str, FailureKind] = {
    # ccxt (ccxt.base.errors)
    "RateLimitExceeded": FailureKind.RATE_LIMITED,
    "DDoSProtection": FailureKind.RATE_LIMITED,
    "RequestTimeout": FailureKind.TIMEOUT,
    "ExchangeNotAvailable": FailureKind.EXCHANGE_UNAVAILABLE,
    "InvalidNonce": FailureKind.NETWORK,
    "NetworkError": FailureKind.NETWORK,
    "InsufficientFunds": FailureKind.INSUFFICIENT_FUNDS,
    "InvalidOrder": FailureKind.INVALID_ORDER,
    "AuthenticationError": FailureKind.AUTHENTICATION,
    # Solana clients: the block height passed before the transaction landed (it never
    # will now: re-sending at a higher fee is safe); or confirmation timed out (it may).
    "TransactionExpiredBlockheightExceededError": FailureKind.FEE_TOO_LOW,
    "TransactionExpiredTimeoutError": FailureKind.OUTCOME_UNKNOWN,
    # httpx, for calls a bot makes itself
    "TimeoutException": FailureKind.TIMEOUT,
    "TransportError": FailureKind.NETWORK,
    # the standard library
    "TimeoutError": FailureKind.TIMEOUT,
    "ConnectionError": FailureKind.NETWORK,
}


def classify(error: BaseException | Mapping[str, Any]) -> Failure:
    """Return what ``error`` is and what to do about it.

    ``error`` is an exception, a JSON-RPC error object or a simulation result.
    """
    if isinstance(error, Mapping):
        return _classify_mapping(error)
    own = getattr(error, "failure", None)
    if isinstance(own, Failure):
        return own
    message = str(error)
    for cls in type(error).__mro__:
        kind = EXCEPTION_NAMES.get(cls.__name__)
        if kind is not None:
            return Failure(kind, message or cls.__name__)
    # solana-py raises RPCException(error_object)
    if error.args and isinstance(error.args[0], Mapping):
        return _classify_mapping(error.args[0])
    return _from_text(message, (), FailureKind.UNKNOWN)


def classify_rpc_error(
    code: int | None = None,
    message: str = "",
    data: Any = None,
    *,
    http_status: int | None = None,
    retry_after_s: float | None = None,
) -> Failure:
    """Classify a JSON-RPC error object and/or the HTTP status it came with."""
    logs = _logs(data)
    if http_status == 429 or code in {429, -32429}:
        return Failure(FailureKind.RATE_LIMITED, message, code, logs, retry_after_s)
    if code == _PREFLIGHT_FAILURE:
        return _preflight(code, message, data, logs)
    kind = CODES.get(code) if code is not None else None
    if kind is None and http_status is not None and code is None:
        kind = _http_kind(http_status)
    if kind is None:
        kind = _match(message, logs) or FailureKind.UNKNOWN
    return Failure(kind, message, code, logs, retry_after_s)


def _http_kind(status: int) -> FailureKind | None:
    if status >= 500:
        return FailureKind.SERVER_ERROR
    if status in {401, 403, 404}:
        return FailureKind.ENDPOINT_REFUSED
    if status >= 400:
        return FailureKind.REQUEST_REJECTED
    return None


def _classify_mapping(error: Mapping[str, Any]) -> Failure:
    if "code" in error or "message" in error:
        code = error.get("code")
        return classify_rpc_error(
            code if isinstance(code, int) else None,
            str(error.get("message", "")),
            error.get("data"),
        )
    # a simulation result / transaction status: {"err": ..., "logs": [...]}
    return _preflight(None, "", error, _logs(error))


def _preflight(code: int | None, message: str, data: Any, logs: tuple[str, ...]) -> Failure:
    """Decompose a simulation failure by its ``err``, then by its message and logs."""
    err = data.get("err") if isinstance(data, Mapping) else None
    name = (
        err if isinstance(err, str) else next(iter(err), None) if isinstance(err, Mapping) else None
    )
    kind = TRANSACTION_ERRORS.get(name) if isinstance(name, str) else None
    if kind is None:
        kind = _match(message, logs) or FailureKind.SIMULATION_FAILED
    if not message and err is not None:
        message = f"simulation failed: {err}"
    return Failure(kind, message, code, logs)


def _from_text(message: str, logs: tuple[str, ...], default: FailureKind) -> Failure:
    return Failure(_match(message, logs) or default, message, None, logs)


def _match(message: str, logs: tuple[str, ...]) -> FailureKind | None:
    # Patterns outside, texts inside: a slippage line in the logs outranks the generic
    # "Transaction simulation failed" of the message.
    for pattern, kind in PATTERNS:
        if any(pattern.search(text) for text in (message, *logs)):
            return kind
    return None


def _logs(data: Any) -> tuple[str, ...]:
    logs = data.get("logs") if isinstance(data, Mapping) else None
    if isinstance(logs, list):
        return tuple(str(line) for line in logs)
    return ()
