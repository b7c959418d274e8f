"""Queries on API keys (stored as SHA-256 digests; the key is shown once)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tradewarden.store._models import ApiKey

__all__ = ["ApiKeyRepository"]


class ApiKeyRepository:
    """Create, find, touch and revoke API keys."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(
        self, *, name: str, prefix: str, key_hash: str, role: str, created_by: str, now: datetime
    ) -> ApiKey:
        """Store a new key."""
        key = ApiKey(
            name=name,
            prefix=prefix,
            key_hash=key_hash,
            role=role,
            created_by=created_by,
            created_at=now,
        )
        self._session.add(key)
        await self._session.flush()
        return key

    async def get(self, key_id: int) -> ApiKey | None:
        """Return the key with ``key_id``."""
        return await self._session.get(ApiKey, key_id)

    async def by_prefix(self, prefix: str) -> ApiKey | None:
        """Return the key whose public prefix is ``prefix``."""
        result = await self._session.scalars(select(ApiKey).where(ApiKey.prefix == prefix))
        return result.first()

    async def list(self, *, include_revoked: bool = False) -> list[ApiKey]:
        """Return keys, oldest first."""
        query = select(ApiKey).order_by(ApiKey.id)
        if not include_revoked:
            query = query.where(ApiKey.revoked_at.is_(None))
        return list(await self._session.scalars(query))

    async def touch(self, key_id: int, *, now: datetime) -> None:
        """Record that the key was just used."""
        await self._session.execute(
            update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=now)
        )

    async def revoke(self, key_id: int, *, now: datetime) -> bool:
        """Revoke the key; return False when it was already revoked or does not exist."""
        result = await self._session.execute(
            update(ApiKey)
            .where(ApiKey.id == key_id, ApiKey.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        return bool(getattr(result, "rowcount", 0))
