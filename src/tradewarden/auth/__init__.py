"""Authentication: users with roles, argon2 passwords, JWT access tokens, refresh tokens
and API keys."""

from tradewarden.auth._passwords import PasswordHasher, generate_password, validate_new_password
from tradewarden.auth._ratelimit import LoginRateLimiter
from tradewarden.auth._roles import Role
from tradewarden.auth._service import (
    AuthService,
    IssuedApiKey,
    LoginThrottledError,
    Principal,
    TokenPair,
)
from tradewarden.auth._tokens import (
    AccessClaims,
    AccessTokenIssuer,
    generate_signing_key,
    split_api_key,
)

__all__ = [
    "AccessClaims",
    "AccessTokenIssuer",
    "AuthService",
    "IssuedApiKey",
    "LoginRateLimiter",
    "LoginThrottledError",
    "PasswordHasher",
    "Principal",
    "Role",
    "TokenPair",
    "generate_password",
    "generate_signing_key",
    "split_api_key",
    "validate_new_password",
]
