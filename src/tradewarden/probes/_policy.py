"""The monitor state machine: a pure decision from the last results and the policy."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tradewarden.probes._model import MonitorState, ProbeResult
from tradewarden.probes._spec import ConsecutivePolicy, FailurePolicy

__all__ = ["Decision", "decide"]


@dataclass(frozen=True, slots=True)
class Decision:
    """The state after a result, and why."""

    state: MonitorState
    reason: str


def decide(
    state: MonitorState, recent: Sequence[bool], result: ProbeResult, policy: FailurePolicy
) -> Decision:
    """Return the monitor's state after ``result``.

    ``recent`` holds the successes (True) and failures (False) of the latest results,
    newest last, ``result`` included. A success moves to UP (or DEGRADED when a warning
    threshold was crossed) at once; failures move to DOWN only as the policy says, and
    until then the previous state stands, so one blip does not page anyone.
    """
    if result.success:
        if result.degraded:
            return Decision("DEGRADED", result.error or "warning threshold crossed")
        return Decision("UP", "check passed")
    error = result.error or "check failed"
    if isinstance(policy, ConsecutivePolicy):
        streak = _trailing_failures(recent)
        if streak >= policy.down_after:
            plural = "failure" if streak == 1 else "consecutive failures"
            return Decision("DOWN", f"{streak} {plural}: {error}")
        return Decision(state, f"{streak} of {policy.down_after} failures: {error}")
    window = list(recent)[-policy.window :]
    failures = window.count(False)
    if len(window) >= policy.min_results and failures / len(window) >= policy.rate:
        return Decision("DOWN", f"{failures} of the last {len(window)} checks failed: {error}")
    return Decision(state, f"{failures} of the last {len(window)} checks failed: {error}")


def _trailing_failures(recent: Sequence[bool]) -> int:
    count = 0
    for success in reversed(recent):
        if success:
            break
        count += 1
    return count
