"""The trading state and one stored change of it: what every back end keeps."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from tradewarden.guard.state._errors import StateUnavailableError

__all__ = ["INITIAL_STATE", "StateChange", "TradingState"]


class TradingState(IntEnum):
    """Whether a bot may trade; the value is the ``trading_state`` metric and the severity.

    ACTIVE 0: every order. REDUCING 1: only orders that reduce exposure. HALTED 2: no new
    orders (cancels are always allowed). A higher value is stricter.
    """

    ACTIVE = 0
    REDUCING = 1
    HALTED = 2


@dataclass(frozen=True, slots=True)
class StateChange:
    """One change of the trading state, as stored: version 1 is the first change ever.

    ``version`` grows by at least one per change and is what back ends compare-and-set on.
    Version 0 is the state of a store nobody has written yet (ACTIVE).
    """

    version: int
    state: TradingState
    actor: str
    reason: str
    message: str
    changed_at: float

    def to_json(self) -> str:
        """Return the change as compact JSON (the layout stored in Redis and logs)."""
        return json.dumps(
            {
                "version": self.version,
                "state": self.state.name,
                "actor": self.actor,
                "reason": self.reason,
                "message": self.message,
                "changed_at": self.changed_at,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> StateChange:
        """Parse a stored change; raise StateUnavailableError when it is not one."""
        try:
            data = json.loads(text)
        except (ValueError, UnicodeDecodeError) as exc:
            raise StateUnavailableError(f"stored trading state is not JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise StateUnavailableError("stored trading state is not a JSON object")
        return cls.from_fields(data)

    @classmethod
    def from_fields(cls, data: dict[str, Any]) -> StateChange:
        """Build a change from stored fields, checking every one; raise StateUnavailableError."""
        version = data.get("version")
        state = data.get("state")
        changed_at = data.get("changed_at")
        texts = [data.get(name) for name in ("actor", "reason", "message")]
        if isinstance(version, float) and version.is_integer():
            version = int(version)  # Lua's cjson writes numbers as doubles
        if not isinstance(version, int) or isinstance(version, bool) or version < 0:
            raise StateUnavailableError(f"stored trading state has a bad version: {version!r}")
        if not isinstance(state, str) or state not in TradingState.__members__:
            raise StateUnavailableError(f"stored trading state has an unknown state: {state!r}")
        if (
            not isinstance(changed_at, int | float)
            or isinstance(changed_at, bool)
            or not math.isfinite(changed_at)
        ):
            raise StateUnavailableError(f"stored trading state has a bad time: {changed_at!r}")
        if not all(isinstance(value, str) for value in texts):
            raise StateUnavailableError("stored trading state has a non-text actor/reason/message")
        actor, reason, message = (str(value) for value in texts)
        return cls(version, TradingState[state], actor, reason, message, float(changed_at))


INITIAL_STATE = StateChange(0, TradingState.ACTIVE, "", "", "", 0.0)
"""The state of a store nobody has written: ACTIVE at version 0."""
