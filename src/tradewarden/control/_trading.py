"""The warden's side of the kill switch: halt, reduce and resume the bots' trading state.

The warden writes the same ``StateBackend`` the bots' ``KillSwitch`` watches, by the same
rules: halt and reduce only tighten (a REDUCING never loosens a HALTED), resume is the one
way back, and every write is a compare-and-set on the version, re-decided on a conflict.
Unlike a bot's switch, the warden keeps nothing it could not store: an operator whose
halt was not stored is told so (503) and tries again, rather than the warden writing it
later on its own. The back ends block, so each call runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from tradewarden.clock import Clock
from tradewarden.control._errors import ControlError, ControlUnavailableError
from tradewarden.guard.state import (
    INITIAL_STATE,
    StateBackend,
    StateChange,
    StateError,
    StateUnavailableError,
    TradingState,
    VersionConflictError,
)

__all__ = ["OutcomeListener", "StateOutcome", "TradingControl"]

_T = TypeVar("_T")
_log = logging.getLogger("tradewarden.control")
_MAX_CONFLICTS = 20


@dataclass(frozen=True, slots=True)
class StateOutcome:
    """What an action did: the stored change now current, the one before, and whether it
    wrote (False: the state already was at least that strict, or already that loose)."""

    current: StateChange
    previous: StateChange
    changed: bool


OutcomeListener = Callable[[StateOutcome], None]
"""Called on the event loop with every stored change an operator's action made."""


class TradingControl:
    """Read and change the trading state in ``backend`` on behalf of an operator.

    ``redact`` scrubs error text before it leaves (a Redis URL's password).
    """

    def __init__(
        self,
        backend: StateBackend,
        *,
        clock: Clock,
        kind: str,
        redact: Callable[[str], str] = str,
    ) -> None:
        self.backend = backend
        self.kind = kind
        self._clock = clock
        self._redact = redact
        self._listeners: list[OutcomeListener] = []

    def add_listener(self, listener: OutcomeListener) -> None:
        """Call ``listener`` after each action that wrote a change (none: nothing called)."""
        self._listeners.append(listener)

    async def current(self) -> StateChange:
        """Return the stored state (version 0, ACTIVE, when nothing was ever written)."""
        return await self._run(lambda: self.backend.load() or INITIAL_STATE)

    async def history(self, limit: int = 100) -> list[StateChange]:
        """Return up to ``limit`` stored changes, newest first."""
        return await self._run(lambda: self.backend.history(limit))

    async def halt(self, actor: str, reason: str, message: str = "") -> StateOutcome:
        """Stop new orders everywhere; stored before this returns."""
        return self._told(
            await self._run(lambda: self._change(TradingState.HALTED, actor, reason, message))
        )

    async def reduce(self, actor: str, reason: str, message: str = "") -> StateOutcome:
        """Allow only orders that reduce exposure (a HALTED stays HALTED)."""
        return self._told(
            await self._run(lambda: self._change(TradingState.REDUCING, actor, reason, message))
        )

    async def resume(
        self,
        actor: str,
        reason: str,
        message: str = "",
        *,
        to: TradingState = TradingState.ACTIVE,
    ) -> StateOutcome:
        """Loosen the state to ``to`` (ACTIVE, or REDUCING from HALTED)."""
        if to is TradingState.HALTED:
            raise ValueError("resume cannot go to HALTED: halt instead")
        return self._told(
            await self._run(lambda: self._change(to, actor, reason, message, loosen=True))
        )

    def close(self) -> None:
        """Release the back end (its watches and connections)."""
        self.backend.close()

    def _told(self, outcome: StateOutcome) -> StateOutcome:
        """Tell the listeners of a written change; a failing listener is logged, not raised."""
        if outcome.changed:
            for listener in list(self._listeners):
                try:
                    listener(outcome)
                except Exception:  # noqa: BLE001 -- a listener must not break the action
                    _log.exception("trading state listener failed")
        return outcome

    def _change(
        self, target: TradingState, actor: str, reason: str, message: str, *, loosen: bool = False
    ) -> StateOutcome:
        for _ in range(_MAX_CONFLICTS):
            base = self.backend.load() or INITIAL_STATE
            done = base.state <= target if loosen else base.state >= target
            if done:
                return StateOutcome(base, base, changed=False)
            change = StateChange(
                base.version + 1, target, actor, reason, message, self._clock.now()
            )
            try:
                self.backend.write(change, expected_version=base.version)
            except VersionConflictError:
                continue  # another writer was first: decide again on what it stored
            _log.warning(
                "trading state %s -> %s by %s (%s) at version %d",
                base.state.name,
                target.name,
                actor,
                reason,
                change.version,
            )
            return StateOutcome(change, base, changed=True)
        raise ControlUnavailableError(
            f"the trading state kept changing under {_MAX_CONFLICTS} attempts"
        )

    async def _run(self, work: Callable[[], _T]) -> _T:
        try:
            return await asyncio.to_thread(work)
        except StateUnavailableError as exc:
            raise ControlUnavailableError(
                f"trading state ({self.kind}) unavailable: {self._redact(exc.message)}"
            ) from None
        except StateError as exc:
            raise ControlError(self._redact(exc.message), permanent=False) from None
