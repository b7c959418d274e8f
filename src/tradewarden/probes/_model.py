"""What a probe is, what it returns, and what it is given: the one small interface of
every monitor kind.

    Probe.run(ctx) -> ProbeResult

A probe never raises for a failed check: it returns ``success=False`` with the error.
Exceptions that do escape (bugs, garbage from the target) are turned into a DOWN result by
the scheduler, which also enforces the timeout, so a probe need not.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol

import httpx

from tradewarden.clock import Clock

if TYPE_CHECKING:
    import aiohttp

    from tradewarden.probes._heartbeats import HeartbeatBoard

__all__ = [
    "MonitorState",
    "Probe",
    "ProbeContext",
    "ProbeResult",
    "Sample",
]

MonitorState = Literal["PENDING", "UP", "DOWN", "DEGRADED", "PAUSED"]


@dataclass(frozen=True, slots=True)
class Sample:
    """One extra measurement a probe reports, e.g. ``probe_http_status_code``.

    ``labels`` never carry secrets: the monitor name is added by the publisher.
    """

    name: str
    value: float
    labels: Mapping[str, str] = field(default_factory=dict)
    help: str = ""


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """The outcome of one check."""

    success: bool
    duration_s: float
    error: str | None = None
    # A check that passed but crossed a warning threshold (slow response, certificate
    # expiring soon, memory high): the monitor becomes DEGRADED, not DOWN.
    degraded: bool = False
    samples: tuple[Sample, ...] = ()

    @classmethod
    def failure(cls, error: str, duration_s: float = 0.0, *samples: Sample) -> ProbeResult:
        """Return a failed result with ``error``."""
        return cls(success=False, duration_s=duration_s, error=error, samples=samples)


@dataclass(frozen=True, slots=True)
class ProbeContext:
    """What a probe may use: the clock, its time budget, the shared HTTP clients, and the
    board of heartbeat pings (for push monitors).

    ``web`` is the aiohttp session of the ``http`` kind (see ``probes/_web.py``); a probe
    given none makes its own.
    """

    clock: Clock
    timeout_s: float
    http: httpx.AsyncClient
    heartbeats: HeartbeatBoard | None = None
    web: aiohttp.ClientSession | None = None


class Probe(Protocol):
    """A check of one target."""

    async def run(self, ctx: ProbeContext) -> ProbeResult:
        """Check the target once and return the result."""
        ...
