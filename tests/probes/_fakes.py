"""A fake monitor kind and in-memory ports, for scheduler tests.

The fake probe's behaviour is looked up by monitor name at run time, so a test can switch
a target between up, down, hanging and broken while the scheduler runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Literal

from tradewarden.probes import (
    Flip,
    MonitorSpec,
    MonitorState,
    Probe,
    ProbeContext,
    ProbeResult,
    Sample,
)

Behaviour = Callable[[], ProbeResult] | Literal["hang", "raise"]
BEHAVIOUR: dict[str, Behaviour] = {}
CALLS: dict[str, int] = {}


def up() -> ProbeResult:
    return ProbeResult(True, 0.001, samples=(Sample("fake_value", 1.0, {"side": "a"}),))


def down() -> ProbeResult:
    return ProbeResult.failure("target said no", 0.001)


def degraded() -> ProbeResult:
    return ProbeResult(True, 0.001, error="slow", degraded=True)


class FakeSpec(MonitorSpec):
    kind: Literal["fake"] = "fake"

    def build(self) -> Probe:
        return _FakeProbe(self.name)


class _FakeProbe:
    def __init__(self, name: str) -> None:
        self._name = name

    async def run(self, ctx: ProbeContext) -> ProbeResult:
        CALLS[self._name] = CALLS.get(self._name, 0) + 1
        behaviour = BEHAVIOUR.get(self._name, up)
        if behaviour == "hang":
            await asyncio.Event().wait()
        if behaviour == "raise":
            raise ValueError("garbage from target: password=hunter2")
        assert callable(behaviour)
        return behaviour()


class MemoryFlips:
    """A FlipRecorder in memory that can be told to fail."""

    def __init__(self, restored: dict[str, MonitorState] | None = None) -> None:
        self.flips: list[Flip] = []
        self.restored = restored or {}
        self.failing = False

    async def record(self, flip: Flip) -> None:
        if self.failing:
            raise ConnectionError("store down")
        self.flips.append(flip)

    async def latest_states(self) -> dict[str, MonitorState]:
        return dict(self.restored)

    def of(self, name: str) -> list[tuple[str, str]]:
        return [(flip.old, flip.new) for flip in self.flips if flip.monitor == name]
