"""Service-wide values that survive restarts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tradewarden.store._models import MetaValue

__all__ = ["MetaRepository"]


class MetaRepository:
    """Read and write named service values."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, key: str) -> str | None:
        """Return the value stored under ``key``."""
        row = await self._session.get(MetaValue, key)
        return None if row is None else row.value

    async def get_or_create(self, key: str, value: str, *, now: datetime) -> str:
        """Return the stored value, storing ``value`` first when there is none.

        When two instances race, the insert of the loser fails and it reads the winner's.
        """
        existing = await self.get(key)
        if existing is not None:
            return existing
        try:
            async with self._session.begin_nested():
                self._session.add(MetaValue(key=key, value=value, updated_at=now))
        except IntegrityError:
            stored = await self.get(key)
            if stored is None:  # pragma: no cover - the winner's row is committed
                raise
            return stored
        return value
