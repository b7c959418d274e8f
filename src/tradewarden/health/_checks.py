"""Readiness: check each dependency, then decide the verdict with a pure function."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from tradewarden.errors import TradewardenError

if TYPE_CHECKING:
    from tradewarden.runtime import Runtime

__all__ = [
    "CheckStatus",
    "DependencyCheck",
    "Readiness",
    "ReadinessReport",
    "Verdict",
    "check_dependencies",
    "verdict",
]

CheckStatus = Literal["up", "down", "degraded", "not_configured"]
Verdict = Literal["ok", "degraded", "down"]

# A dependency that answers but slower than this is degraded, not up.
SLOW_MS = 500.0


@dataclass(frozen=True)
class DependencyCheck:
    """The state of one dependency."""

    name: str
    status: CheckStatus
    critical: bool
    latency_ms: float | None = None
    error: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Return the JSON shape, ``status`` first so keyword monitors can match it."""
        body: dict[str, Any] = {
            "status": self.status,
            "latency_ms": None if self.latency_ms is None else round(self.latency_ms, 3),
            "error": self.error,
            "critical": self.critical,
        }
        body.update(self.details)
        return body


@dataclass(frozen=True)
class ReadinessReport:
    """Every check and the verdict drawn from them."""

    verdict: Verdict
    checks: tuple[DependencyCheck, ...]
    checked_at: float

    @property
    def trading_state(self) -> str | None:
        """Return the stored trading state (ACTIVE, REDUCING, HALTED); None if unread."""
        for check in self.checks:
            if check.name == "trading_state":
                state = check.details.get("state")
                return state if isinstance(state, str) else None
        return None


def verdict(checks: tuple[DependencyCheck, ...]) -> Verdict:
    """Return down if a critical dependency is down, degraded if anything else is off."""
    if any(check.critical and check.status == "down" for check in checks):
        return "down"
    if any(check.status in {"down", "degraded"} for check in checks):
        return "degraded"
    return "ok"


def _timed_status(latency_ms: float) -> CheckStatus:
    return "degraded" if latency_ms > SLOW_MS else "up"


async def _check_database(runtime: Runtime) -> DependencyCheck:
    details: dict[str, Any] = {"backend": runtime.database.backend}
    try:
        latency = await runtime.database.ping()
    except TradewardenError as exc:
        return DependencyCheck("database", "down", True, error=exc.message, details=details)
    return DependencyCheck("database", _timed_status(latency), True, latency, details=details)


async def _check_redis(runtime: Runtime) -> DependencyCheck:
    critical = runtime.config.redis.required
    if runtime.redis is None:
        return DependencyCheck("redis", "not_configured", critical)
    from tradewarden.redisconn import RedisUnavailableError

    try:
        latency = await runtime.redis.ping()
    except RedisUnavailableError as exc:
        stats = runtime.redis.stats().as_dict()
        return DependencyCheck("redis", "down", critical, error=str(exc), details={"pool": stats})
    stats = runtime.redis.stats().as_dict()
    return DependencyCheck(
        "redis", _timed_status(latency), critical, latency, details={"pool": stats}
    )


async def _check_trading_state(runtime: Runtime) -> DependencyCheck:
    """Read the kill switch's store (the one the bots watch); its error text is redacted."""
    critical = runtime.config.control.trading_state_required
    control = runtime.control
    if control is None:
        return DependencyCheck("trading_state", "not_configured", critical)
    details: dict[str, Any] = {"backend": control.trading.kind}
    started = time.perf_counter()  # a latency, like the database ping's: real time
    try:
        change = await control.trading.current()
    except TradewardenError as exc:  # ControlError: a message already redacted
        details["state"] = None
        return DependencyCheck(
            "trading_state", "down", critical, error=exc.message, details=details
        )
    latency_ms = (time.perf_counter() - started) * 1000.0
    details["state"] = change.state.name
    details["version"] = change.version
    return DependencyCheck(
        "trading_state", _timed_status(latency_ms), critical, latency_ms, details=details
    )


async def check_dependencies(runtime: Runtime) -> ReadinessReport:
    """Check every dependency concurrently and return the report."""
    checks = tuple(
        await asyncio.gather(
            _check_database(runtime), _check_redis(runtime), _check_trading_state(runtime)
        )
    )
    return ReadinessReport(verdict(checks), checks, checked_at=runtime.clock.now())


class Readiness:
    """Serve readiness reports, checking dependencies at most once per ``max_age_s``.

    Concurrent callers share one check in flight, so a burst of /status requests (or a
    monitor polling too fast) costs the database one ``SELECT 1``, not one per request.
    """

    def __init__(self, runtime: Runtime, *, max_age_s: float) -> None:
        self._runtime = runtime
        self._max_age_s = max_age_s
        self._last: ReadinessReport | None = None
        self._last_at = float("-inf")
        self._in_flight: asyncio.Task[ReadinessReport] | None = None

    async def report(self) -> ReadinessReport:
        """Return a report no older than ``max_age_s``."""
        now = self._runtime.clock.monotonic()
        if self._last is not None and now - self._last_at < self._max_age_s:
            return self._last
        if self._in_flight is None:
            self._in_flight = asyncio.ensure_future(self._check(now))
        # shield: one caller giving up must not cancel the check the others wait for.
        return await asyncio.shield(self._in_flight)

    async def _check(self, started: float) -> ReadinessReport:
        try:
            report = await check_dependencies(self._runtime)
            self._last, self._last_at = report, started
            return report
        finally:
            self._in_flight = None
