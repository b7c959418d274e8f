"""Retries that understand trading errors: a classifier, fee levels, and policies on tenacity.

``classify(error)`` turns an exception, a JSON-RPC error object or a simulation result into
a ``Failure`` with a kind and an action; ``RetryPolicy.call``/``acall`` run a function
until it succeeds, refreshing the blockhash, raising the priority fee, honouring
``Retry-After`` or backing off with full jitter as each failure asks, and raise a
``PermanentFailureError`` or ``RetriesExhaustedError`` (carrying the failure, logs
included) when they give up.
"""

from tradewarden.guard.retry._classify import (
    Action,
    Failure,
    FailureKind,
    classify,
    classify_rpc_error,
)
from tradewarden.guard.retry._fees import FeeLevel
from tradewarden.guard.retry._policy import (
    Attempt,
    PermanentFailureError,
    RetriesExhaustedError,
    RetryGaveUpError,
    RetryPolicy,
)
from tradewarden.guard.retry._retry_after import parse_retry_after

__all__ = [
    "Action",
    "Attempt",
    "Failure",
    "FailureKind",
    "FeeLevel",
    "PermanentFailureError",
    "RetriesExhaustedError",
    "RetryGaveUpError",
    "RetryPolicy",
    "classify",
    "classify_rpc_error",
    "parse_retry_after",
]
