"""Template for a new monitor kind: copy this file to ``kinds/<kind>.py``.

1. Name the kind in ``kind: Literal[...]`` and declare its fields on the spec (validated,
   frozen, with units in their names: ``timeout_s``, ``max_lag_slots``).
2. Write the probe: ``async def run(ctx) -> ProbeResult``. Return ``success=False`` with
   an error for a failed check instead of raising; the scheduler enforces the timeout.
   Report extra measurements as ``Sample``s (blackbox-exporter names, ``_seconds``,
   ``_bytes``); never put a secret (URL with a key, password) in a label or an error.
3. Add the spec class to ``KINDS`` in ``kinds/__init__.py``.
4. Test it against a real or local peer in ``tests/probes/test_<kind>.py``, failure modes
   included.
"""

from __future__ import annotations

import time
from typing import Literal

from tradewarden.probes._model import Probe, ProbeContext, ProbeResult, Sample
from tradewarden.probes._spec import MonitorSpec

__all__ = ["TemplateSpec"]


class TemplateSpec(MonitorSpec):
    """A kind that always succeeds: the smallest complete example."""

    kind: Literal["template"] = "template"
    value: float = 1.0

    def build(self) -> Probe:
        return _TemplateProbe(self)


class _TemplateProbe:
    def __init__(self, spec: TemplateSpec) -> None:
        self._spec = spec

    async def run(self, ctx: ProbeContext) -> ProbeResult:
        started = time.perf_counter()
        sample = Sample("template_value", self._spec.value, help="The configured value.")
        return ProbeResult(
            success=True, duration_s=time.perf_counter() - started, samples=(sample,)
        )
