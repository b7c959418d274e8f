"""The ports of the scheduler: where flips are made durable and where results go."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from tradewarden.probes._model import MonitorState, ProbeResult
from tradewarden.probes._spec import MonitorSpec

__all__ = ["Flip", "FlipRecorder", "ResultSink"]


@dataclass(frozen=True, slots=True)
class Flip:
    """A monitor's change of state."""

    monitor: str
    old: MonitorState
    new: MonitorState
    reason: str
    at: float


class FlipRecorder(Protocol):
    """Make flips durable; read back the last state of each monitor after a restart."""

    async def record(self, flip: Flip) -> None:
        """Store ``flip``; raise when it could not be stored."""
        ...

    async def latest_states(self) -> dict[str, MonitorState]:
        """Return each monitor's state after its newest stored flip."""
        ...


class ResultSink(Protocol):
    """Where every result goes: today the Prometheus registry, later the series store.

    This is the one hand-off function of the probes: nothing else reads results.
    """

    def publish(
        self, spec: MonitorSpec, result: ProbeResult, state: MonitorState, at: float
    ) -> None:
        """Take one result and the state it left the monitor in."""
        ...

    def forget(self, name: str) -> None:
        """Drop everything about a removed monitor."""
        ...
