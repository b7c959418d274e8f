"""The classifier, table-driven over the error shapes Solana nodes, providers and ccxt produce."""

from __future__ import annotations

from typing import Any

import ccxt
import httpx
import pytest

from tradewarden.guard.retry import Action, Failure, FailureKind, classify, classify_rpc_error

JUPITER_SLIPPAGE_LOGS = [
    "Program ComputeBudget111111111111111111111111111111 invoke [1]",
    "Program ComputeBudget111111111111111111111111111111 success",
    "Program JUP6LkbZbjS1jKKwapdHNy74zcZ3tLUZoi5QNyVTaV4 invoke [1]",
    "Program log: Instruction: Route",
    (
        "Program log: AnchorError occurred. Error Code: SlippageToleranceExceeded. "
        "Error Number: 6001. Error Message: Slippage tolerance exceeded."
    ),
    "Program JUP6LkbZbjS1jKKwapdHNy74zcZ3tLUZoi5QNyVTaV4 consumed 97432 of 199850 compute units",
    "Program JUP6LkbZbjS1jKKwapdHNy74zcZ3tLUZoi5QNyVTaV4 failed: custom program error: 0x1771",
]


def preflight(err: Any, message: str, logs: list[str] | None = None) -> dict[str, Any]:
    """Return Agave's -32002 error object for a transaction refused in preflight."""
    data = {
        "err": err,
        "logs": logs or [],
        "accounts": None,
        "unitsConsumed": 0,
        "returnData": None,
        "innerInstructions": None,
    }
    return {"code": -32002, "message": message, "data": data}


RPC_ERRORS: list[tuple[str, dict[str, Any], FailureKind, Action]] = [
    (
        "blockhash not found",
        preflight("BlockhashNotFound", "Transaction simulation failed: Blockhash not found"),
        FailureKind.BLOCKHASH_NOT_FOUND,
        Action.REFRESH_BLOCKHASH,
    ),
    (
        "empty payer",
        preflight(
            "AccountNotFound",
            "Transaction simulation failed: Attempt to debit an account but found no "
            "record of a prior credit.",
        ),
        FailureKind.INSUFFICIENT_FUNDS,
        Action.FAIL,
    ),
    (
        "fee payer short of the fee",
        preflight(
            "InsufficientFundsForFee", "Transaction simulation failed: Insufficient funds for fee"
        ),
        FailureKind.INSUFFICIENT_FUNDS,
        Action.FAIL,
    ),
    (
        "rent",
        preflight(
            {"InsufficientFundsForRent": {"account_index": 2}},
            "Transaction simulation failed: Transaction results in an account (2) with "
            "insufficient funds for rent",
        ),
        FailureKind.INSUFFICIENT_FUNDS,
        Action.FAIL,
    ),
    (
        "system transfer short of lamports",
        preflight(
            {"InstructionError": [0, {"Custom": 1}]},
            "Transaction simulation failed: Error processing Instruction 0: custom program "
            "error: 0x1",
            [
                "Program 11111111111111111111111111111111 invoke [1]",
                "Transfer: insufficient lamports 19266, need 2039280",
                "Program 11111111111111111111111111111111 failed: custom program error: 0x1",
            ],
        ),
        FailureKind.INSUFFICIENT_FUNDS,
        Action.FAIL,
    ),
    (
        "jupiter slippage",
        preflight(
            {"InstructionError": [2, {"Custom": 6001}]},
            "Transaction simulation failed: Error processing Instruction 2: custom program "
            "error: 0x1771",
            JUPITER_SLIPPAGE_LOGS,
        ),
        FailureKind.SLIPPAGE_EXCEEDED,
        Action.FAIL,
    ),
    (
        "account in use",
        preflight("AccountInUse", "Transaction simulation failed: Account in use"),
        FailureKind.ACCOUNT_IN_USE,
        Action.RETRY,
    ),
    (
        "already processed",
        preflight(
            "AlreadyProcessed",
            "Transaction simulation failed: This transaction has already been processed",
        ),
        FailureKind.ALREADY_PROCESSED,
        Action.FAIL,
    ),
    (
        "program error without a known cause",
        preflight(
            {"InstructionError": [1, {"Custom": 6023}]},
            "Transaction simulation failed: Error processing Instruction 1: custom program "
            "error: 0x1787",
            ["Program log: AnchorError occurred. Error Code: InvalidPoolState."],
        ),
        FailureKind.SIMULATION_FAILED,
        Action.FAIL,
    ),
    (
        "node behind",
        {"code": -32005, "message": "Node is behind by 142 slots", "data": {"numSlotsBehind": 142}},
        FailureKind.NODE_UNHEALTHY,
        Action.SWITCH_ENDPOINT,
    ),
    (
        "node unhealthy, lag unknown",
        {"code": -32005, "message": "Node is unhealthy", "data": {"numSlotsBehind": None}},
        FailureKind.NODE_UNHEALTHY,
        Action.SWITCH_ENDPOINT,
    ),
    (
        "min context slot",
        {
            "code": -32016,
            "message": "Minimum context slot has not been reached",
            "data": {"contextSlot": 312000000},
        },
        FailureKind.NODE_CANNOT_ANSWER,
        Action.SWITCH_ENDPOINT,
    ),
    (
        "public endpoint rate limit",
        {
            "code": 429,
            "message": "Too many requests for a specific RPC call, contact your app developer "
            "or support@rpcpool.com.",
        },
        FailureKind.RATE_LIMITED,
        Action.WAIT_RETRY_AFTER,
    ),
    (
        "signature verification",
        {"code": -32003, "message": "Transaction signature verification failure"},
        FailureKind.REQUEST_REJECTED,
        Action.FAIL,
    ),
    (
        "method not found",
        {"code": -32601, "message": "Method not found"},
        FailureKind.REQUEST_REJECTED,
        Action.FAIL,
    ),
    (
        "invalid params",
        {"code": -32602, "message": "Invalid param: WrongSize"},
        FailureKind.REQUEST_REJECTED,
        Action.FAIL,
    ),
    (
        "a provider's generic server error about a rate limit",
        {"code": -32000, "message": "rate limit exceeded, retry later"},
        FailureKind.RATE_LIMITED,
        Action.WAIT_RETRY_AFTER,
    ),
    (
        "a provider's fee floor",
        {"code": -32000, "message": "priority fee is too low for this endpoint"},
        FailureKind.FEE_TOO_LOW,
        Action.RAISE_FEE,
    ),
    (
        "nothing we know",
        {"code": -32000, "message": "something odd"},
        FailureKind.UNKNOWN,
        Action.FAIL,
    ),
]


@pytest.mark.parametrize(
    ("error", "kind", "action"),
    [row[1:] for row in RPC_ERRORS],
    ids=[row[0] for row in RPC_ERRORS],
)
def test_json_rpc_error_objects_map_to_their_action(
    error: dict[str, Any], kind: FailureKind, action: Action
) -> None:
    failure = classify(error)
    assert (failure.kind, failure.action) == (kind, action)
    assert failure.code == error["code"]
    assert failure.message == error["message"]


def test_simulation_failure_carries_its_logs() -> None:
    error = preflight(
        {"InstructionError": [2, {"Custom": 6001}]},
        "Transaction simulation failed: Error processing Instruction 2: custom program "
        "error: 0x1771",
        JUPITER_SLIPPAGE_LOGS,
    )
    failure = classify(error)
    assert failure.logs == tuple(JUPITER_SLIPPAGE_LOGS)
    assert failure.surfaced
    assert not failure.retryable


def test_a_simulate_transaction_result_is_classified_by_its_err_and_logs() -> None:
    value = {
        "err": {"InstructionError": [0, {"Custom": 1}]},
        "logs": ["Program log: Error: insufficient funds"],
    }
    failure = classify(value)
    assert failure.kind is FailureKind.INSUFFICIENT_FUNDS
    assert failure.logs == ("Program log: Error: insufficient funds",)
    assert "InstructionError" in failure.message


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (429, FailureKind.RATE_LIMITED),
        (500, FailureKind.SERVER_ERROR),
        (502, FailureKind.SERVER_ERROR),
        (503, FailureKind.SERVER_ERROR),
        (401, FailureKind.ENDPOINT_REFUSED),
        (403, FailureKind.ENDPOINT_REFUSED),
        (413, FailureKind.REQUEST_REJECTED),
    ],
)
def test_http_statuses_without_a_json_rpc_error(status: int, kind: FailureKind) -> None:
    assert classify_rpc_error(http_status=status).kind is kind


def test_rate_limit_keeps_the_retry_after() -> None:
    failure = classify_rpc_error(http_status=429, retry_after_s=7.0)
    assert failure.action is Action.WAIT_RETRY_AFTER
    assert failure.retry_after_s == 7.0


CCXT_ERRORS: list[tuple[type[Exception], FailureKind, bool]] = [
    (ccxt.NetworkError, FailureKind.NETWORK, True),
    (ccxt.RequestTimeout, FailureKind.TIMEOUT, True),
    (ccxt.DDoSProtection, FailureKind.RATE_LIMITED, True),
    (ccxt.RateLimitExceeded, FailureKind.RATE_LIMITED, True),
    (ccxt.ExchangeNotAvailable, FailureKind.EXCHANGE_UNAVAILABLE, True),
    (ccxt.OnMaintenance, FailureKind.EXCHANGE_UNAVAILABLE, True),
    (ccxt.InvalidNonce, FailureKind.NETWORK, True),
    (ccxt.InsufficientFunds, FailureKind.INSUFFICIENT_FUNDS, False),
    (ccxt.InvalidOrder, FailureKind.INVALID_ORDER, False),
    (ccxt.OrderNotFound, FailureKind.INVALID_ORDER, False),
    (ccxt.AuthenticationError, FailureKind.AUTHENTICATION, False),
    (ccxt.PermissionDenied, FailureKind.AUTHENTICATION, False),
    (ccxt.ExchangeError, FailureKind.UNKNOWN, False),
]


@pytest.mark.parametrize(
    ("cls", "kind", "retryable"), CCXT_ERRORS, ids=lambda v: getattr(v, "__name__", str(v))
)
def test_ccxt_exceptions_are_matched_by_class_name(
    cls: type[Exception], kind: FailureKind, retryable: bool
) -> None:
    failure = classify(cls('binance {"code":-1000,"msg":"An unknown error occurred."}'))
    assert failure.kind is kind
    assert failure.retryable is retryable


def test_a_class_of_the_same_name_outside_ccxt_matches_too() -> None:
    class InsufficientFunds(Exception):  # noqa: N818 - the name is what is matched
        pass

    assert classify(InsufficientFunds("no")).kind is FailureKind.INSUFFICIENT_FUNDS


def test_block_height_exceeded_asks_for_the_next_fee_level() -> None:
    class TransactionExpiredBlockheightExceededError(Exception):
        pass

    signature = (
        "5VERv8NMvzbJMEkV8xnrLkEaWRtSz9CosKDYjCJjBRnbJLgp8uirBgmQpjKhoR4tjF3ZpRzrFmBV6UjKdiSZkQUW"
    )
    error = TransactionExpiredBlockheightExceededError(
        f"Signature {signature} has expired: block height exceeded."
    )
    assert classify(error).action is Action.RAISE_FEE
    assert (
        classify(Exception(f"Signature {signature} has expired: block height exceeded.")).action
        is Action.RAISE_FEE
    )


def test_a_confirmation_timeout_is_never_retried_blindly() -> None:
    message = (
        "Transaction was not confirmed in 30.00 seconds. It is unknown if it succeeded or failed."
    )
    failure = classify(Exception(message))
    assert failure.kind is FailureKind.OUTCOME_UNKNOWN
    assert not failure.retryable
    assert failure.surfaced


def test_solana_py_rpc_exception_carries_the_error_object() -> None:
    class RPCException(Exception):  # noqa: N818 - solana-py's name
        pass

    error = RPCException(
        {"code": -32005, "message": "Node is behind by 3 slots", "data": {"numSlotsBehind": 3}}
    )
    assert classify(error).kind is FailureKind.NODE_UNHEALTHY


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (TimeoutError(), FailureKind.TIMEOUT),
        (ConnectionRefusedError(111, "Connection refused"), FailureKind.NETWORK),
        (httpx.ReadTimeout("timed out"), FailureKind.TIMEOUT),
        (httpx.ConnectError("[Errno 111] Connection refused"), FailureKind.NETWORK),
        (ValueError("bad"), FailureKind.UNKNOWN),
        (
            Exception("Transaction simulation failed: Blockhash not found"),
            FailureKind.BLOCKHASH_NOT_FOUND,
        ),
    ],
)
def test_plain_exceptions(error: Exception, kind: FailureKind) -> None:
    assert classify(error).kind is kind


def test_an_exception_that_carries_its_failure_is_taken_at_its_word() -> None:
    class ClassifiedError(Exception):
        failure = Failure(FailureKind.FEE_TOO_LOW, "not landed")

    assert classify(ClassifiedError()).kind is FailureKind.FEE_TOO_LOW


def test_every_kind_has_an_action() -> None:
    for kind in FailureKind:
        assert isinstance(Failure(kind).action, Action)
