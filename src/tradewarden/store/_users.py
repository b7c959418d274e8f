"""Queries on users."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tradewarden.errors import ConflictError
from tradewarden.store._models import User

__all__ = ["UserRepository"]


class UserRepository:
    """Create, find and change users."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def count(self) -> int:
        """Return how many users exist."""
        return int(await self._session.scalar(select(func.count()).select_from(User)) or 0)

    async def get(self, user_id: int) -> User | None:
        """Return the user with ``user_id``."""
        return await self._session.get(User, user_id)

    async def by_username(self, username: str) -> User | None:
        """Return the user named ``username`` (names are case-insensitive)."""
        result = await self._session.scalars(select(User).where(User.username == username.lower()))
        return result.first()

    async def list(self) -> list[User]:
        """Return every user, oldest first."""
        return list(await self._session.scalars(select(User).order_by(User.id)))

    async def add(
        self,
        *,
        username: str,
        password_hash: str,
        role: str,
        now: datetime,
        must_change_password: bool = False,
    ) -> User:
        """Insert a user; raise ConflictError when the name is taken."""
        user = User(
            username=username.lower(),
            password_hash=password_hash,
            role=role,
            disabled=False,
            must_change_password=must_change_password,
            created_at=now,
            updated_at=now,
        )
        self._session.add(user)
        try:
            await self._session.flush()
        except IntegrityError as exc:
            raise ConflictError(f"user {username.lower()!r} already exists") from exc
        return user
