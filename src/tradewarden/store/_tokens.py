"""Queries on refresh tokens (stored as SHA-256 digests, never in clear)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tradewarden.store._models import RefreshToken

__all__ = ["RefreshTokenRepository"]


class RefreshTokenRepository:
    """Issue, find and revoke refresh tokens."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(
        self, *, user_id: int, token_hash: str, family_id: str, now: datetime, expires_at: datetime
    ) -> RefreshToken:
        """Store a newly issued token."""
        token = RefreshToken(
            user_id=user_id,
            token_hash=token_hash,
            family_id=family_id,
            issued_at=now,
            expires_at=expires_at,
        )
        self._session.add(token)
        await self._session.flush()
        return token

    async def by_hash(self, token_hash: str) -> RefreshToken | None:
        """Return the token with this digest, revoked or not."""
        result = await self._session.scalars(
            select(RefreshToken).where(RefreshToken.token_hash == token_hash)
        )
        return result.first()

    async def revoke_if_active(self, token_id: int, *, now: datetime, reason: str) -> bool:
        """Revoke one token unless already revoked; return whether this call revoked it.

        The conditional UPDATE makes a refresh token single-use even when two requests
        race with the same token.
        """
        result = await self._session.execute(
            update(RefreshToken)
            .where(RefreshToken.id == token_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=now, revoked_reason=reason)
        )
        return bool(getattr(result, "rowcount", 0))

    async def revoke_family(self, family_id: str, *, now: datetime, reason: str) -> int:
        """Revoke every active token of a login session; return how many."""
        result = await self._session.execute(
            update(RefreshToken)
            .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=now, revoked_reason=reason)
        )
        return int(getattr(result, "rowcount", 0))

    async def revoke_user(self, user_id: int, *, now: datetime, reason: str) -> int:
        """Revoke every active token of a user; return how many."""
        result = await self._session.execute(
            update(RefreshToken)
            .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=now, revoked_reason=reason)
        )
        return int(getattr(result, "rowcount", 0))
