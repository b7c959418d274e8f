"""Bounded label values: a metric with an unbounded label is a memory leak in Prometheus.

Counters and histograms fold what is not allowed into ``other`` (the count is kept, the
detail is lost); gauges refuse a new series past their cap instead, because a gauge
``other`` would hold whichever value was set last.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable

__all__ = ["OTHER", "LabelCap", "wallet_label"]

log = logging.getLogger("tradewarden.guard.metrics")

OTHER = "other"
_MAX_LENGTH = 64
_SAFE = re.compile(r"[A-Za-z0-9_.:\-/]+")
_BASE58 = re.compile(r"[1-9A-HJ-NP-Za-km-z]+")
_NAME = re.compile(r"[A-Za-z0-9_.:\-]{1,40}")


class LabelCap:
    """The label values one metric accepts: an allow-list, or the first ``limit`` seen."""

    def __init__(
        self, label: str, *, allowed: Iterable[str] | None = None, limit: int = 20
    ) -> None:
        if limit < 1:
            raise ValueError(f"{label}: limit must be at least 1, not {limit}")
        self.label = label
        self._allowed = frozenset(allowed) if allowed is not None else None
        self._limit = limit
        self._seen: set[str] = set()
        self._lock = threading.Lock()
        self._warned = False

    def admit(self, value: str) -> bool:
        """Return whether ``value`` may be a label value of its own."""
        if self._allowed is not None:
            return value in self._allowed
        if value in self._seen:
            return True
        if len(value) > _MAX_LENGTH or not _SAFE.fullmatch(value):
            return False
        with self._lock:
            if len(self._seen) < self._limit:
                self._seen.add(value)
                return True
        if not self._warned:
            self._warned = True
            log.warning(
                "metric label %r reached its cap of %d distinct values; new ones are not "
                "recorded separately",
                self.label,
                self._limit,
            )
        return False

    def fold(self, value: str) -> str:
        """Return ``value`` if admitted, else ``other``."""
        return value if self.admit(value) else OTHER


def wallet_label(wallet: str) -> str:
    """Return the label for a wallet: its configured name, or a shortened public key.

    A Solana public key is 32 bytes, 32 to 44 base58 characters: it becomes ``AbCd..WxYz``.
    A longer base58 string is what a secret key (64 bytes, ~88 characters) looks like: it is
    refused, and the error does not repeat it.
    """
    if _BASE58.fullmatch(wallet) and len(wallet) > 44:
        raise ValueError("a wallet label looks like a private key: pass a name or the public key")
    if _BASE58.fullmatch(wallet) and len(wallet) >= 32:
        return f"{wallet[:4]}..{wallet[-4:]}"
    if _NAME.fullmatch(wallet):
        return wallet
    raise ValueError(
        "a wallet label is a name (letters, digits, _ . : -, at most 40) or a public key"
    )
