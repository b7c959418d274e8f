"""Roles, password hashing and token primitives."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradewarden.auth import (
    AccessTokenIssuer,
    PasswordHasher,
    Role,
    generate_signing_key,
    split_api_key,
    validate_new_password,
)
from tradewarden.auth._tokens import generate_api_key
from tradewarden.errors import AuthError


@given(st.sampled_from(list(Role)), st.sampled_from(list(Role)))
def test_role_order_is_total_and_monotonic(held: Role, required: Role) -> None:
    assert held.allows(required) == (held.value >= required.value)


@pytest.mark.parametrize("name", ["viewer", "OPERATOR", " admin "])
def test_role_parse(name: str) -> None:
    assert Role.parse(name).label == name.strip().lower()


def test_unknown_role_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown role"):
        Role.parse("root")


def test_password_hash_is_argon2id_and_verifies(fast_hasher: PasswordHasher) -> None:
    hashed = fast_hasher.hash("a password of length")
    assert hashed.startswith("$argon2id$")
    assert fast_hasher.verify(hashed, "a password of length")
    assert not fast_hasher.verify(hashed, "another password")
    assert not fast_hasher.verify(None, "a password of length")
    assert not fast_hasher.verify("not-a-hash", "x")


def test_weaker_hashes_are_flagged_for_rehash(fast_hasher: PasswordHasher) -> None:
    strong = PasswordHasher(time_cost=2, memory_cost_kib=2048, parallelism=1)
    assert strong.needs_rehash(fast_hasher.hash("a password of length"))


@pytest.mark.parametrize("password", ["short", " leading-space-password", "trailing-space-pw "])
def test_weak_passwords_are_refused(password: str) -> None:
    with pytest.raises(ValueError, match="password"):
        validate_new_password(password)


def test_signing_key_must_be_long() -> None:
    with pytest.raises(ValueError, match="at least 32 bytes"):
        AccessTokenIssuer("short", ttl_s=60)


def test_issued_token_verifies_until_expiry() -> None:
    issuer = AccessTokenIssuer(generate_signing_key(), ttl_s=60)
    token = issuer.issue(user_id=7, username="u", role=Role.OPERATOR, now=1000.0)
    claims = issuer.verify(token, now=1059.0)
    assert (claims.user_id, claims.username, claims.role) == (7, "u", Role.OPERATOR)
    with pytest.raises(AuthError, match="expired"):
        issuer.verify(token, now=1060.0)


def test_token_from_the_future_is_refused() -> None:
    issuer = AccessTokenIssuer(generate_signing_key(), ttl_s=600)
    token = issuer.issue(user_id=1, username="u", role=Role.VIEWER, now=5000.0)
    with pytest.raises(AuthError):
        issuer.verify(token, now=4000.0)


def test_api_key_shape() -> None:
    material = generate_api_key()
    assert split_api_key(material.key) == material.prefix
    assert material.key_hash != material.key
    for not_a_key in ("eyJhbGciOi.x.y", "tw_short_x", "tw_abcdefabcdef", "tw_abcdefabcdef_tiny"):
        assert split_api_key(not_a_key) is None
