"""Password hashing with argon2id (argon2-cffi), and a policy for new passwords."""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher as _Argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

__all__ = ["PasswordHasher", "generate_password", "validate_new_password"]

MIN_PASSWORD_LENGTH = 12


class PasswordHasher:
    """Hash and verify passwords; verification of an unknown user costs the same."""

    def __init__(
        self, *, time_cost: int = 3, memory_cost_kib: int = 65536, parallelism: int = 2
    ) -> None:
        self._argon2 = _Argon2(
            time_cost=time_cost, memory_cost=memory_cost_kib, parallelism=parallelism
        )
        self._dummy_hash = self._argon2.hash(secrets.token_urlsafe(16))

    def hash(self, password: str) -> str:
        """Return an argon2id hash of ``password``."""
        return self._argon2.hash(password)

    def verify(self, stored_hash: str | None, password: str) -> bool:
        """Return whether ``password`` matches; with no hash, spend the same time and fail."""
        try:
            return self._argon2.verify(stored_hash or self._dummy_hash, password) and (
                stored_hash is not None
            )
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored_hash: str) -> bool:
        """Return whether the hash was made with weaker parameters than today's."""
        return self._argon2.check_needs_rehash(stored_hash)


def validate_new_password(password: str) -> None:
    """Raise ValueError when ``password`` is too weak to accept."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"password must be at least {MIN_PASSWORD_LENGTH} characters long")
    if password.strip() != password:
        raise ValueError("password must not start or end with whitespace")


def generate_password() -> str:
    """Return a random password for a first admin (shown once)."""
    return secrets.token_urlsafe(18)
