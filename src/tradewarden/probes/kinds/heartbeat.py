"""``heartbeat``: a push monitor. The bot pings; the monitor is DOWN when pings stop.

DOWN when no successful ping arrived within ``period_s + grace_s`` (counted from the
warden's start for a heartbeat never pinged), and at once when the bot reports ``/fail``.
A ping later than ``period_s`` but within the grace is DEGRADED (late).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import Field, model_validator

from tradewarden.probes._model import Probe, ProbeContext, ProbeResult, Sample
from tradewarden.probes._spec import ConsecutivePolicy, FailurePolicy, MonitorSpec

__all__ = ["HeartbeatSpec"]


class HeartbeatSpec(MonitorSpec):
    """A dead man's switch for a bot, a cron job or a loop."""

    kind: Literal["heartbeat"] = "heartbeat"
    # The deadline already holds the grace, and a /fail is the bot's own word: no
    # second failure is awaited.
    failure: FailurePolicy = ConsecutivePolicy(down_after=1)
    period_s: float = Field(ge=1, le=30 * 86_400)
    grace_s: float = Field(default=60.0, ge=0, le=7 * 86_400)
    # Optional per-heartbeat token (from the environment or a file, never inline), for
    # shell one-liners: `curl -fsS "$WARDEN/v1/heartbeats/backup?token=$TOKEN"`.
    token_env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    token_file: Path | None = None

    @model_validator(mode="before")
    @classmethod
    def _check_often_enough(cls, data: Any) -> Any:
        # Unless told otherwise, look every 30 s (or every grace period when shorter), so
        # a missed deadline is noticed within a fraction of the grace.
        if isinstance(data, dict) and "interval_s" not in data:
            grace = float(data.get("grace_s", 60.0))
            data = {**data, "interval_s": max(1.0, min(30.0, grace or 30.0))}
            data.setdefault("timeout_s", 1.0)
        return data

    @model_validator(mode="after")
    def _one_token_source(self) -> Self:
        if self.token_env is not None and self.token_file is not None:
            raise ValueError("set token_env or token_file, not both")
        return self

    def token(self) -> str | None:
        """Return the ping token, read now (rotating it needs no restart)."""
        if self.token_env is not None:
            return os.environ.get(self.token_env) or None
        if self.token_file is not None:
            try:
                return self.token_file.read_text(encoding="utf-8").strip() or None
            except OSError:
                return None
        return None

    def accepts(self, token: str) -> bool:
        """Return whether ``token`` is this heartbeat's token (constant-time)."""
        expected = self.token()
        return expected is not None and secrets.compare_digest(expected, token)

    def build(self) -> Probe:
        return _HeartbeatProbe(self)


class _HeartbeatProbe:
    def __init__(self, spec: HeartbeatSpec) -> None:
        self._spec = spec

    async def run(self, ctx: ProbeContext) -> ProbeResult:
        spec = self._spec
        now = ctx.clock.now()
        board = ctx.heartbeats
        beat = board.get(spec.name) if board is not None else None
        deadline = spec.period_s + spec.grace_s
        samples: list[Sample] = []
        if beat is not None and beat.last_ping_at is not None:
            samples.append(
                Sample(
                    "heartbeat_last_seen_timestamp_seconds",
                    beat.last_ping_at,
                    {"name": spec.name},
                    "When the last ping arrived (Unix time).",
                )
            )
        if beat is not None and beat.last_duration_s is not None:
            samples.append(
                Sample(
                    "heartbeat_run_duration_seconds",
                    beat.last_duration_s,
                    {"name": spec.name},
                    "How long the last run took, from /start to the success ping.",
                )
            )
        found = tuple(samples)
        if beat is not None and beat.last_status == "fail":
            reason = f": {beat.message}" if beat.message else ""
            return ProbeResult(False, 0.0, f"the job reported a failure{reason}", samples=found)
        if beat is None or beat.last_ping_at is None:
            since = board.started_at if board is not None else now
            if now - since > deadline:
                return ProbeResult(
                    False, 0.0, f"never pinged in {now - since:.0f} s", samples=found
                )
            return ProbeResult(True, 0.0, "waiting for the first ping", degraded=True)
        silent = now - beat.last_ping_at
        if silent > deadline:
            error = (
                f"last ping {silent:.0f} s ago "
                f"(period {spec.period_s:g} s + grace {spec.grace_s:g} s)"
            )
            return ProbeResult(False, 0.0, error, samples=found)
        if silent > spec.period_s:
            return ProbeResult(
                True, 0.0, f"late: last ping {silent:.0f} s ago", degraded=True, samples=found
            )
        return ProbeResult(True, 0.0, samples=found)
