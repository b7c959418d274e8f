"""Silences, pure: matchers and a time window that mute the alerts they match.

A silence is pending before ``starts_at``, active until ``ends_at``, then expired (kept
for history). As in Alertmanager, a silence needs at least one matcher, and not every
matcher may match the empty string (that would mute nearly everything), and it must end
after it starts. Times are integer milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from tradewarden.alerting._matchers import MatcherError, Matchers, make_matcher, matches
from tradewarden.series import Labels, MatchOp

__all__ = ["Silence", "SilenceError", "SilenceState", "matchers_from_api", "matchers_to_api"]


class SilenceError(ValueError):
    """A silence that cannot be: the message names the field."""


class SilenceState(StrEnum):
    """Alertmanager's silence states."""

    PENDING = "pending"
    ACTIVE = "active"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class Silence:
    """A silence: who made it and why, what it matches, and when."""

    id: str
    matchers: Matchers
    starts_at_ms: int
    ends_at_ms: int
    created_by: str
    comment: str
    updated_at_ms: int = 0

    def state(self, now_ms: int) -> SilenceState:
        """Return the state at ``now_ms``."""
        if now_ms < self.starts_at_ms:
            return SilenceState.PENDING
        if now_ms < self.ends_at_ms:
            return SilenceState.ACTIVE
        return SilenceState.EXPIRED

    def mutes(self, labels: Labels, now_ms: int) -> bool:
        """Whether this silence mutes ``labels`` at ``now_ms``."""
        return self.state(now_ms) is SilenceState.ACTIVE and matches(self.matchers, labels)

    def expired(self, now_ms: int) -> Silence:
        """Return this silence expired at ``now_ms`` (a pending one never starts)."""
        if self.state(now_ms) is SilenceState.PENDING:
            return replace(self, starts_at_ms=now_ms, ends_at_ms=now_ms, updated_at_ms=now_ms)
        return replace(self, ends_at_ms=min(self.ends_at_ms, now_ms), updated_at_ms=now_ms)

    def validate(self) -> Silence:
        """Return self, or raise SilenceError naming the field."""
        if not self.matchers:
            raise SilenceError("matchers: at least one matcher is required")
        if all(m.matches_empty() for m in self.matchers):
            raise SilenceError("matchers: at least one matcher must not match the empty string")
        if self.ends_at_ms <= self.starts_at_ms:
            raise SilenceError("endsAt: the silence must end after it starts")
        if not self.created_by.strip():
            raise SilenceError("createdBy: who made the silence is required")
        if not self.comment.strip():
            raise SilenceError("comment: a silence needs a comment (why)")
        return self


def matchers_from_api(items: list[dict[str, Any]]) -> Matchers:
    """Read Alertmanager API v2 matchers (``name``, ``value``, ``isRegex``, ``isEqual``)."""
    out = []
    for i, item in enumerate(items):
        regex, equal = bool(item.get("isRegex", False)), bool(item.get("isEqual", True))
        op = {
            (False, True): MatchOp.EQUAL,
            (False, False): MatchOp.NOT_EQUAL,
            (True, True): MatchOp.REGEX,
            (True, False): MatchOp.NOT_REGEX,
        }[regex, equal]
        try:
            out.append(make_matcher(str(item["name"]), op, str(item["value"])))
        except MatcherError as exc:
            raise SilenceError(f"matchers.{i}.value: {exc}") from None
    return tuple(out)


def matchers_to_api(matchers: Matchers) -> list[dict[str, Any]]:
    """Write matchers as Alertmanager API v2 does."""
    return [
        {
            "name": m.name,
            "value": m.value,
            "isRegex": m.op in (MatchOp.REGEX, MatchOp.NOT_REGEX),
            "isEqual": m.op in (MatchOp.EQUAL, MatchOp.REGEX),
        }
        for m in matchers
    ]
