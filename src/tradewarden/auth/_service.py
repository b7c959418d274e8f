"""Authentication and account flows: login, refresh, logout, API keys, users.

Every flow reads the time once from the injected clock and runs its queries in one
transaction through the repositories.

A verified API key is remembered for ``api_key_cache_ttl_s`` (2 s by default): within that
time the key authenticates without a database read (a Prometheus posting alerts calls many
times a second); past half of it, a request starts the next check without waiting for it.
A revocation through this service takes effect at once in this process; another instance
(or a revocation written straight to the store, the CLI's) sees it within the TTL.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

import structlog
from sqlalchemy.exc import SQLAlchemyError

from tradewarden.auth._passwords import PasswordHasher, validate_new_password
from tradewarden.auth._ratelimit import LoginRateLimiter
from tradewarden.auth._roles import Role
from tradewarden.auth._tokens import (
    AccessTokenIssuer,
    digest,
    generate_api_key,
    generate_refresh_token,
    split_api_key,
)
from tradewarden.clock import Clock, utc_datetime
from tradewarden.errors import AuthError, NotFoundError
from tradewarden.store import (
    ApiKey,
    ApiKeyRepository,
    AuditRecord,
    AuditRepository,
    Database,
    RefreshTokenRepository,
    User,
    UserRepository,
)

__all__ = ["AuthService", "IssuedApiKey", "LoginThrottledError", "Principal", "TokenPair"]

# A used key's last-used time is written at most this often: a bot calling every second
# must not turn every request into a write.
_TOUCH_INTERVAL_S = 60.0
DEFAULT_API_KEY_CACHE_TTL_S = 2.0
_log = structlog.stdlib.get_logger("tradewarden.auth")


@dataclass(frozen=True)
class Principal:
    """Who is calling: a user (by access token) or an API key."""

    kind: Literal["user", "api_key", "cli", "system"]
    id: int
    name: str
    role: Role

    @property
    def actor(self) -> str:
        """Return the name written to the audit log."""
        return self.name if self.kind == "user" else f"{self.kind}:{self.name}"


@dataclass(frozen=True, slots=True)
class _CheckedKey:
    """An API key's principal and when (monotonic clock) the store last confirmed it."""

    principal: Principal
    checked_at: float


@dataclass(frozen=True)
class TokenPair:
    """What a successful login or refresh returns."""

    access_token: str
    access_expires_in_s: int
    refresh_token: str
    refresh_expires_in_s: int
    must_change_password: bool


@dataclass(frozen=True)
class IssuedApiKey:
    """A newly created API key; ``key`` is never retrievable again."""

    id: int
    name: str
    role: Role
    key: str
    prefix: str


class LoginThrottledError(AuthError):
    """Too many failed logins for this account or address."""

    permanent = False

    def __init__(self, retry_after_s: float) -> None:
        super().__init__("too many failed logins: try again later", permanent=False)
        self.retry_after_s = retry_after_s


class AuthService:
    """The account and token flows of the warden."""

    def __init__(
        self,
        database: Database,
        *,
        issuer: AccessTokenIssuer,
        hasher: PasswordHasher,
        limiter: LoginRateLimiter,
        clock: Clock,
        refresh_ttl_s: int,
        api_key_cache_ttl_s: float = DEFAULT_API_KEY_CACHE_TTL_S,
    ) -> None:
        if api_key_cache_ttl_s < 0:
            raise ValueError("api_key_cache_ttl_s must be 0 or more")
        self._db = database
        self._issuer = issuer
        self._hasher = hasher
        self._limiter = limiter
        self._clock = clock
        self._refresh_ttl_s = refresh_ttl_s
        self._key_ttl_s = api_key_cache_ttl_s
        self._touched: dict[int, float] = {}
        # By key digest: served from here within the TTL, and (at any age) while the store
        # is unreachable. Bumped by every revocation: a check that read the store before a
        # revocation committed must not put its principal back.
        self._known_keys: dict[str, _CheckedKey] = {}
        self._key_checks: dict[str, asyncio.Future[Principal]] = {}
        self._revocations = 0

    # -- login, refresh, logout ------------------------------------------------------

    async def login(self, username: str, password: str, *, address: str) -> TokenPair:
        """Check the password and return tokens, or raise AuthError (same for every cause)."""
        now = self._clock.now()
        wait = self._limiter.retry_after(account=username, address=address, now=now)
        if wait is not None:
            raise LoginThrottledError(wait)
        async with self._db.session() as session:
            users = UserRepository(session)
            user = await users.by_username(username)
            valid = self._hasher.verify(user.password_hash if user else None, password)
            if user is None or not valid or user.disabled:
                self._limiter.record_failure(account=username, address=address, now=now)
                raise AuthError("invalid username or password")
            self._limiter.record_success(account=username)
            if self._hasher.needs_rehash(user.password_hash):
                user.password_hash = self._hasher.hash(password)
            user.last_login_at = utc_datetime(now)
            return await self._issue_pair(
                session_user=user,
                tokens=RefreshTokenRepository(session),
                now=now,
                family_id=secrets.token_hex(16),
            )

    async def refresh(self, refresh_token: str) -> TokenPair:
        """Trade a refresh token for a new pair; a reused token revokes its whole family."""
        now = self._clock.now()
        # Revocations made while refusing must be committed, so the refusal is raised only
        # after the transaction ends.
        refusal: str | None = None
        pair: TokenPair | None = None
        async with self._db.session() as session:
            tokens = RefreshTokenRepository(session)
            stored = await tokens.by_hash(digest(refresh_token))
            user = None if stored is None else await UserRepository(session).get(stored.user_id)
            if stored is None:
                refusal = "invalid refresh token"
            elif stored.revoked_at is not None:
                if stored.revoked_reason == "rotated":
                    # A rotated token presented again was stolen or replayed: end the session.
                    await tokens.revoke_family(
                        stored.family_id, now=utc_datetime(now), reason="reuse"
                    )
                refusal = "refresh token revoked"
            elif stored.expires_at.timestamp() <= now:
                refusal = "refresh token expired"
            elif user is None or user.disabled:
                await tokens.revoke_user(stored.user_id, now=utc_datetime(now), reason="disabled")
                refusal = "account disabled"
            elif not await tokens.revoke_if_active(
                stored.id, now=utc_datetime(now), reason="rotated"
            ):
                refusal = "refresh token revoked"
            else:
                pair = await self._issue_pair(
                    session_user=user, tokens=tokens, now=now, family_id=stored.family_id
                )
        if pair is None:
            raise AuthError(refusal or "invalid refresh token")
        return pair

    async def logout(self, refresh_token: str) -> bool:
        """Revoke the login session the refresh token belongs to; return whether it existed."""
        now = utc_datetime(self._clock.now())
        async with self._db.session() as session:
            tokens = RefreshTokenRepository(session)
            stored = await tokens.by_hash(digest(refresh_token))
            if stored is None:
                return False
            await tokens.revoke_family(stored.family_id, now=now, reason="logout")
            return True

    async def _issue_pair(
        self, *, session_user: User, tokens: RefreshTokenRepository, now: float, family_id: str
    ) -> TokenPair:
        refresh = generate_refresh_token()
        await tokens.add(
            user_id=session_user.id,
            token_hash=digest(refresh),
            family_id=family_id,
            now=utc_datetime(now),
            expires_at=utc_datetime(now) + timedelta(seconds=self._refresh_ttl_s),
        )
        access = self._issuer.issue(
            user_id=session_user.id,
            username=session_user.username,
            role=Role.parse(session_user.role),
            now=now,
        )
        return TokenPair(
            access_token=access,
            access_expires_in_s=self._issuer.ttl_s,
            refresh_token=refresh,
            refresh_expires_in_s=self._refresh_ttl_s,
            must_change_password=session_user.must_change_password,
        )

    # -- authenticating requests -------------------------------------------------------

    async def authenticate(self, credential: str) -> Principal:
        """Return the principal for an access token or API key, or raise AuthError.

        While the store is unreachable, a signed access token is trusted on its own claims
        and an API key on its last successful check in this process, so operators can still
        read /status and act during a database outage.
        """
        if split_api_key(credential) is not None:
            return await self._authenticate_api_key(credential)
        now = self._clock.now()
        claims = self._issuer.verify(credential, now=now)
        try:
            async with self._db.read_session() as session:
                user = await UserRepository(session).get(claims.user_id)
        except (SQLAlchemyError, OSError):
            _log.warning(
                "store unreachable: trusting the access token's claims", user=claims.username
            )
            return Principal(kind="user", id=claims.user_id, name=claims.username, role=claims.role)
        # The role and the disabled flag are read from the store on every request, so
        # demoting or disabling a user takes effect before their token expires.
        if user is None or user.disabled:
            raise AuthError("account disabled")
        return Principal(kind="user", id=user.id, name=user.username, role=Role.parse(user.role))

    async def _authenticate_api_key(self, key: str) -> Principal:
        key_digest = digest(key)
        checked = self._clock.monotonic()
        known = self._known_keys.get(key_digest)
        if known is not None and 0 <= checked - known.checked_at < self._key_ttl_s:
            # Past half its TTL, the key is checked again behind this request, which does
            # not wait for it: under steady traffic no request pays for a store read, and
            # what is served from memory is still never older than the TTL.
            if checked - known.checked_at >= self._key_ttl_s / 2:
                self._check(key, key_digest, known, checked)
            return known.principal
        return await asyncio.shield(self._check(key, key_digest, known, checked))

    def _check(
        self, key: str, key_digest: str, known: _CheckedKey | None, checked: float
    ) -> asyncio.Future[Principal]:
        """Return the store check of a key in flight, or start one.

        One store check per key at a time: when the TTL runs out under load, the requests
        in flight share it instead of each opening a session (and a connection).
        """
        pending = self._key_checks.get(key_digest)
        if pending is not None:
            return pending
        check = asyncio.ensure_future(self._check_api_key(key, key_digest, known, checked))
        self._key_checks[key_digest] = check

        def _finished(done: asyncio.Future[Principal]) -> None:
            if self._key_checks.get(key_digest) is done:
                del self._key_checks[key_digest]
            if not done.cancelled():
                done.exception()  # retrieved: every caller may have gone

        check.add_done_callback(_finished)
        return check

    async def _check_api_key(
        self, key: str, key_digest: str, known: _CheckedKey | None, checked: float
    ) -> Principal:
        prefix = split_api_key(key)
        now = self._clock.now()
        revocations = self._revocations
        try:
            async with self._db.read_session() as session:
                stored = await ApiKeyRepository(session).by_prefix(prefix or "")
            if stored is None or not secrets.compare_digest(stored.key_hash, key_digest):
                self._known_keys.pop(key_digest, None)  # deleted since it was remembered
                raise AuthError("invalid API key")
            if stored.revoked_at is not None:
                self._known_keys.pop(key_digest, None)
                raise AuthError("API key revoked")
            principal = Principal(
                kind="api_key", id=stored.id, name=stored.name, role=Role.parse(stored.role)
            )
            if now - self._touched.get(stored.id, float("-inf")) >= _TOUCH_INTERVAL_S:
                self._touched[stored.id] = now
                async with self._db.session() as session:
                    await ApiKeyRepository(session).touch(stored.id, now=utc_datetime(now))
        except (SQLAlchemyError, OSError):
            if known is None:
                raise
            _log.warning(
                "store unreachable: trusting a key checked before", key=known.principal.name
            )
            return known.principal
        if revocations == self._revocations:
            self._known_keys[key_digest] = _CheckedKey(principal, checked)
        return principal

    def _forget_key(self, key_id: int) -> None:
        """Drop a key's remembered checks (it was revoked here)."""
        self._revocations += 1
        self._known_keys = {
            known: checked
            for known, checked in self._known_keys.items()
            if checked.principal.id != key_id
        }

    # -- users ---------------------------------------------------------------------------

    async def create_user(
        self,
        username: str,
        password: str,
        role: Role,
        *,
        actor: Principal,
        must_change_password: bool = False,
        audit: AuditRecord | None = None,
    ) -> User:
        """Create a user (audited); raise ValueError for a weak password or bad name."""
        _validate_username(username)
        validate_new_password(password)
        now = utc_datetime(self._clock.now())
        async with self._db.session() as session:
            user = await UserRepository(session).add(
                username=username,
                password_hash=self._hasher.hash(password),
                role=role.label,
                now=now,
                must_change_password=must_change_password,
            )
            await AuditRepository(session).append(
                _audited(audit, actor, "user.create", user.username, {"role": role.label}),
                now=now,
            )
        return user

    async def list_users(self) -> list[User]:
        """Return every user."""
        async with self._db.read_session() as session:
            return await UserRepository(session).list()

    async def count_users(self) -> int:
        """Return how many users exist."""
        async with self._db.read_session() as session:
            return await UserRepository(session).count()

    async def update_user(
        self,
        username: str,
        *,
        actor: Principal,
        role: Role | None = None,
        disabled: bool | None = None,
        password: str | None = None,
        audit: AuditRecord | None = None,
    ) -> User:
        """Change a user's role, disabled flag or password (audited).

        Disabling a user or changing the password revokes every refresh token they hold.
        """
        if password is not None:
            validate_new_password(password)
        now = utc_datetime(self._clock.now())
        async with self._db.session() as session:
            user = await UserRepository(session).by_username(username)
            if user is None:
                raise NotFoundError(f"user {username.lower()!r} does not exist")
            changes: dict[str, object] = {}
            if role is not None and role.label != user.role:
                changes["role"] = {"from": user.role, "to": role.label}
                user.role = role.label
            if disabled is not None and disabled != user.disabled:
                changes["disabled"] = disabled
                user.disabled = disabled
            if password is not None:
                changes["password"] = "changed"  # noqa: S105 - an audit note, not a secret
                user.password_hash = self._hasher.hash(password)
                user.must_change_password = False
            if user.disabled or password is not None:
                await RefreshTokenRepository(session).revoke_user(
                    user.id, now=now, reason="disabled" if user.disabled else "password"
                )
            user.updated_at = now
            await AuditRepository(session).append(
                _audited(audit, actor, "user.update", user.username, changes), now=now
            )
        return user

    # -- API keys ------------------------------------------------------------------------

    async def create_api_key(
        self, name: str, role: Role, *, actor: Principal, audit: AuditRecord | None = None
    ) -> IssuedApiKey:
        """Create a key (audited); the returned ``key`` is shown once and never stored."""
        name = name.strip()
        if not name or len(name) > 64:
            raise ValueError("name must be 1 to 64 characters")
        material = generate_api_key()
        now = utc_datetime(self._clock.now())
        async with self._db.session() as session:
            stored = await ApiKeyRepository(session).add(
                name=name,
                prefix=material.prefix,
                key_hash=material.key_hash,
                role=role.label,
                created_by=actor.actor,
                now=now,
            )
            await AuditRepository(session).append(
                _audited(
                    audit, actor, "apikey.create", f"{stored.id}:{name}", {"role": role.label}
                ),
                now=now,
            )
        return IssuedApiKey(
            id=stored.id, name=name, role=role, key=material.key, prefix=material.prefix
        )

    async def list_api_keys(self, *, include_revoked: bool = False) -> list[ApiKey]:
        """Return API keys (never their secrets)."""
        async with self._db.read_session() as session:
            return await ApiKeyRepository(session).list(include_revoked=include_revoked)

    async def revoke_api_key(
        self, key_id: int, *, actor: Principal, audit: AuditRecord | None = None
    ) -> ApiKey:
        """Revoke a key (audited); raise NotFoundError for an unknown or revoked key."""
        now = utc_datetime(self._clock.now())
        async with self._db.session() as session:
            keys = ApiKeyRepository(session)
            stored = await keys.get(key_id)
            if stored is None or not await keys.revoke(key_id, now=now):
                raise NotFoundError(f"API key {key_id} does not exist or is already revoked")
            self._forget_key(key_id)
            await AuditRepository(session).append(
                _audited(audit, actor, "apikey.revoke", f"{stored.id}:{stored.name}", None),
                now=now,
            )
            await session.refresh(stored)
        # Again once committed: a check that read the store meanwhile saw the key valid.
        self._forget_key(key_id)
        return stored


def _validate_username(username: str) -> None:
    name = username.strip()
    if not (1 <= len(name) <= 64) or name != username:
        raise ValueError("username must be 1 to 64 characters without surrounding spaces")
    if not all(ch.isalnum() or ch in "._-@" for ch in name):
        raise ValueError("username may hold letters, digits and . _ - @ only")


def _audited(
    base: AuditRecord | None,
    actor: Principal,
    action: str,
    target: str,
    details: dict[str, object] | None,
) -> AuditRecord:
    """Return the audit record of an action, keeping the caller's request context."""
    return AuditRecord(
        actor=actor.actor,
        actor_type=actor.kind,
        action=action,
        outcome="success",
        target=target,
        reason=base.reason if base else None,
        details=dict(details) if details else None,
        request_id=base.request_id if base else None,
        source_ip=base.source_ip if base else None,
    )
