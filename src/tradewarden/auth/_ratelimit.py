"""Failed-login throttling per account and per client address (sliding window)."""

from __future__ import annotations

from collections import deque

__all__ = ["LoginRateLimiter"]


class LoginRateLimiter:
    """Count failed logins per key in a window; a key over budget must wait.

    In memory, per process: behind several warden instances each enforces its own budget.
    """

    def __init__(self, *, per_account: int, per_address: int, window_s: float) -> None:
        self._limits = {"account": per_account, "address": per_address}
        self._window_s = window_s
        self._failures: dict[tuple[str, str], deque[float]] = {}

    def retry_after(self, *, account: str, address: str, now: float) -> float | None:
        """Return seconds to wait before another attempt, or None when allowed."""
        waits = [
            wait
            for kind, key in (("account", account.lower()), ("address", address))
            if (wait := self._wait(kind, key, now)) is not None
        ]
        return max(waits) if waits else None

    def record_failure(self, *, account: str, address: str, now: float) -> None:
        """Count one failed attempt against the account and the address."""
        for kind, key in (("account", account.lower()), ("address", address)):
            self._failures.setdefault((kind, key), deque()).append(now)
            self._prune(kind, key, now)

    def record_success(self, *, account: str) -> None:
        """Forget the account's failures after a successful login."""
        self._failures.pop(("account", account.lower()), None)

    def _prune(self, kind: str, key: str, now: float) -> deque[float]:
        window = self._failures.get((kind, key), deque())
        while window and window[0] <= now - self._window_s:
            window.popleft()
        if not window:
            self._failures.pop((kind, key), None)
        return window

    def _wait(self, kind: str, key: str, now: float) -> float | None:
        window = self._prune(kind, key, now)
        if len(window) < self._limits[kind]:
            return None
        return max(0.0, window[-self._limits[kind]] + self._window_s - now)
