"""Roles, ordered: viewer < operator < admin."""

from __future__ import annotations

from enum import IntEnum

__all__ = ["Role"]


class Role(IntEnum):
    """What a principal may do; a higher role may do everything a lower one may."""

    VIEWER = 1
    OPERATOR = 2
    ADMIN = 3

    @classmethod
    def parse(cls, name: str) -> Role:
        """Return the role named ``name`` (case-insensitive) or raise ValueError."""
        try:
            return cls[name.strip().upper()]
        except KeyError:
            raise ValueError(f"unknown role {name!r}: use viewer, operator or admin") from None

    @property
    def label(self) -> str:
        """Return the lower-case name stored and shown everywhere."""
        return self.name.lower()

    def allows(self, required: Role) -> bool:
        """Return whether this role may act where ``required`` is needed."""
        return self >= required
