"""Access tokens (JWT, HS256 only) and opaque refresh tokens and API keys."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

import jwt

from tradewarden.auth._roles import Role
from tradewarden.errors import AuthError

__all__ = [
    "API_KEY_PREFIX",
    "AccessClaims",
    "AccessTokenIssuer",
    "ApiKeyMaterial",
    "digest",
    "generate_api_key",
    "generate_refresh_token",
    "generate_signing_key",
    "split_api_key",
]

_ALGORITHM = "HS256"
_ISSUER = "tradewarden"
API_KEY_PREFIX = "tw_"
_MIN_KEY_BYTES = 32
_CLOCK_SKEW_S = 30.0


@dataclass(frozen=True)
class AccessClaims:
    """What a verified access token says."""

    user_id: int
    username: str
    role: Role
    expires_at: float


class AccessTokenIssuer:
    """Issue and verify short-lived access tokens signed with the service key."""

    def __init__(self, signing_key: str, *, ttl_s: int) -> None:
        if len(signing_key.encode()) < _MIN_KEY_BYTES:
            raise ValueError(f"the JWT signing key must be at least {_MIN_KEY_BYTES} bytes")
        self._key = signing_key
        self.ttl_s = ttl_s

    def issue(self, *, user_id: int, username: str, role: Role, now: float) -> str:
        """Return a signed token valid for ``ttl_s`` seconds from ``now``."""
        claims = {
            "iss": _ISSUER,
            "sub": str(user_id),
            "name": username,
            "role": role.label,
            "typ": "access",
            "iat": int(now),
            "exp": int(now) + self.ttl_s,
            "jti": secrets.token_hex(8),
        }
        return jwt.encode(claims, self._key, algorithm=_ALGORITHM)

    def verify(self, token: str, *, now: float) -> AccessClaims:
        """Return the claims of a valid token or raise AuthError.

        Only HS256 is accepted, so ``alg: none`` and algorithm-confusion tokens fail.
        """
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[_ALGORITHM],
                issuer=_ISSUER,
                # Time claims are checked below against the injected clock, not PyJWT's.
                options={
                    "require": ["exp", "iat", "sub", "iss"],
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except jwt.InvalidTokenError as exc:
            raise AuthError("invalid access token") from exc
        if claims.get("typ") != "access":
            raise AuthError("invalid access token")
        expires_at = float(claims["exp"])
        if float(claims["iat"]) > now + _CLOCK_SKEW_S:
            raise AuthError("invalid access token")
        if now >= expires_at:
            raise AuthError("access token expired")
        try:
            return AccessClaims(
                user_id=int(claims["sub"]),
                username=str(claims.get("name", "")),
                role=Role.parse(str(claims.get("role", ""))),
                expires_at=expires_at,
            )
        except ValueError as exc:
            raise AuthError("invalid access token") from exc


@dataclass(frozen=True)
class ApiKeyMaterial:
    """A freshly generated key: ``key`` is shown once, the rest is stored."""

    key: str
    prefix: str
    key_hash: str


def digest(secret: str) -> str:
    """Return the SHA-256 hex digest of a high-entropy secret (keys, refresh tokens).

    These secrets are 32 random bytes, so a fast hash is safe and keeps lookups cheap;
    passwords, which are guessable, use argon2 instead.
    """
    return hashlib.sha256(secret.encode()).hexdigest()


def generate_signing_key() -> str:
    """Return a new random JWT signing key."""
    return secrets.token_urlsafe(48)


def generate_refresh_token() -> str:
    """Return a new opaque refresh token."""
    return secrets.token_urlsafe(32)


def generate_api_key() -> ApiKeyMaterial:
    """Return a new API key ``tw_<prefix>_<secret>`` with its stored parts."""
    prefix = secrets.token_hex(6)
    key = f"{API_KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    return ApiKeyMaterial(key=key, prefix=prefix, key_hash=digest(key))


def split_api_key(key: str) -> str | None:
    """Return the public prefix of something shaped like an API key, else None."""
    if not key.startswith(API_KEY_PREFIX):
        return None
    prefix, sep, secret = key[len(API_KEY_PREFIX) :].partition("_")
    if not sep or len(prefix) != 12 or len(secret) < 20:
        return None
    return prefix
