"""What one automated step produced: the record the timeline and the API show."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

__all__ = ["MAX_OUTPUT_CHARS", "StepResult", "StepStatus", "json_output"]

StepStatus = Literal["ok", "failed", "timeout", "skipped", "error"]
# An output whose JSON is longer than this is cut to this much text.
MAX_OUTPUT_CHARS = 16 * 1024


def json_output(output: Any) -> Any:
    """Return ``output`` as plain JSON values, cut to 16 KiB of text when longer.

    Values JSON has no type for (datetimes, decimals, UUIDs, bytes) become their text.
    """
    text = json.dumps(output, default=str, ensure_ascii=False)
    if len(text) > MAX_OUTPUT_CHARS:
        return {"truncated": True, "text": text[:MAX_OUTPUT_CHARS]}
    return json.loads(text)


@dataclass(frozen=True)
class StepResult:
    """One step's outcome. ``status``: ``ok`` (ran, target healthy), ``failed`` (ran, the
    target or the read-only guard said no), ``timeout`` (cut at its timeout), ``skipped``
    (a label or connection missing), ``error`` (the warden could not run it)."""

    step_id: str
    title: str
    kind: str
    status: StepStatus
    output: Any
    error: str | None
    started_at: datetime
    duration_ms: float

    def to_dict(self) -> dict[str, Any]:
        """Return the result as JSON values (``started_at`` in ISO 8601)."""
        return {
            "step_id": self.step_id,
            "title": self.title,
            "kind": self.kind,
            "status": self.status,
            "output": self.output,
            "error": self.error,
            "started_at": self.started_at.isoformat(),
            "duration_ms": self.duration_ms,
        }
