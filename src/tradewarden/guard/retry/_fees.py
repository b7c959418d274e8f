"""Priority fee levels: the ladder a transaction climbs when it does not land."""

from __future__ import annotations

from enum import IntEnum

__all__ = ["FeeLevel"]


class FeeLevel(IntEnum):
    """A priority fee level; its value is the fee in lamports (the seeds' levels)."""

    NONE = 0
    LOW = 1_000
    MEDIUM = 10_000
    HIGH = 100_000
    TURBO = 1_000_000
    ULTRA = 10_000_000

    @property
    def lamports(self) -> int:
        """Return the fee in lamports."""
        return int(self)

    def next(self, ceiling: FeeLevel | None = None) -> FeeLevel | None:
        """Return the next level up, or None at the top (or at ``ceiling``)."""
        top = FeeLevel.ULTRA if ceiling is None else ceiling
        higher = [level for level in FeeLevel if self < level <= top]
        return higher[0] if higher else None
