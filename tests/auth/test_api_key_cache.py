"""A verified API key is remembered briefly: no store read per request, revocation at once
here, within the TTL elsewhere, and the last check trusted while the store is down."""

from __future__ import annotations

import asyncio
import gc
import shutil
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, update
from sqlalchemy.exc import SQLAlchemyError

from support.eventually import eventually
from tradewarden.auth import (
    AccessTokenIssuer,
    AuthService,
    LoginRateLimiter,
    PasswordHasher,
    Role,
    generate_signing_key,
)
from tradewarden.clock import ManualClock, utc_datetime
from tradewarden.errors import AuthError
from tradewarden.runtime import SYSTEM, Runtime
from tradewarden.store import ApiKey, Database


class _Statements:
    """Count the SQL statements an engine runs (and the reads of API keys)."""

    def __init__(self) -> None:
        self.count = 0
        self.key_reads = 0

    def __call__(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        self.count += 1
        self.key_reads += (
            statement.lstrip().upper().startswith("SELECT") and "api_keys" in statement
        )


@pytest.fixture
def statements(runtime: Runtime) -> Iterator[_Statements]:
    counter = _Statements()
    engine = runtime.database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", counter)
    try:
        yield counter
    finally:
        event.remove(engine, "before_cursor_execute", counter)


async def _revoke_in_the_store(database: Database, key_id: int, clock: ManualClock) -> None:
    """Revoke as another instance (or the CLI's process) would: straight in the store."""
    async with database.session() as session:
        await session.execute(
            update(ApiKey).where(ApiKey.id == key_id).values(revoked_at=utc_datetime(clock.now()))
        )


async def test_a_checked_key_authenticates_without_reading_the_store(
    runtime: Runtime, statements: _Statements
) -> None:
    issued = await runtime.auth.create_api_key("prometheus", Role.OPERATOR, actor=SYSTEM)
    first = await runtime.auth.authenticate(issued.key)
    checked = statements.count
    assert checked > 0
    for _ in range(5):
        assert await runtime.auth.authenticate(issued.key) == first
    assert statements.count == checked
    assert (first.kind, first.name, first.role) == ("api_key", "prometheus", Role.OPERATOR)


async def test_the_store_is_read_again_once_the_ttl_passed(
    runtime: Runtime, statements: _Statements, clock: ManualClock
) -> None:
    issued = await runtime.auth.create_api_key("prometheus", Role.OPERATOR, actor=SYSTEM)
    await runtime.auth.authenticate(issued.key)
    before = statements.count
    clock.advance(2.0)
    await runtime.auth.authenticate(issued.key)
    assert statements.count > before


async def test_concurrent_checks_of_one_key_share_one_store_read(
    runtime: Runtime, statements: _Statements, clock: ManualClock
) -> None:
    issued = await runtime.auth.create_api_key("prometheus", Role.OPERATOR, actor=SYSTEM)
    first = await runtime.auth.authenticate(issued.key)
    assert statements.key_reads == 1
    clock.advance(2.0)
    results = await asyncio.gather(*(runtime.auth.authenticate(issued.key) for _ in range(10)))
    assert results == [first] * 10
    assert statements.key_reads == 2


async def test_past_half_the_ttl_a_request_is_answered_at_once_and_the_key_checked_behind(
    runtime: Runtime, statements: _Statements, clock: ManualClock
) -> None:
    issued = await runtime.auth.create_api_key("prometheus", Role.OPERATOR, actor=SYSTEM)
    first = await runtime.auth.authenticate(issued.key)
    assert statements.key_reads == 1
    clock.advance(1.5)
    assert await runtime.auth.authenticate(issued.key) == first
    assert statements.key_reads == 1  # answered from memory: the check has not run yet
    await eventually(lambda: statements.key_reads == 2)
    # The check behind it renewed the key: at 2 s after the first check (its TTL) the
    # request is still answered from memory.
    clock.advance(0.5)
    await eventually(lambda: not runtime.auth._key_checks)
    reads = statements.key_reads
    assert await runtime.auth.authenticate(issued.key) == first
    assert statements.key_reads == reads


async def test_a_check_behind_a_request_carries_a_revocation_made_elsewhere(
    runtime: Runtime, statements: _Statements, clock: ManualClock
) -> None:
    issued = await runtime.auth.create_api_key("prometheus", Role.OPERATOR, actor=SYSTEM)
    await runtime.auth.authenticate(issued.key)
    await _revoke_in_the_store(runtime.database, issued.id, clock)
    clock.advance(1.0)
    assert (await runtime.auth.authenticate(issued.key)).name == "prometheus"  # within TTL
    await eventually(lambda: statements.key_reads == 2)
    await eventually(lambda: not runtime.auth._key_checks)
    with pytest.raises(AuthError, match="API key revoked"):  # the clock has not moved
        await runtime.auth.authenticate(issued.key)


async def test_a_wrong_secret_is_refused_even_with_the_real_key_remembered(
    runtime: Runtime,
) -> None:
    issued = await runtime.auth.create_api_key("prometheus", Role.OPERATOR, actor=SYSTEM)
    await runtime.auth.authenticate(issued.key)
    forged = issued.key[: issued.key.rindex("_") + 1] + "x" * 43
    with pytest.raises(AuthError, match="invalid API key"):
        await runtime.auth.authenticate(forged)


async def test_a_key_revoked_through_this_service_stops_at_once(runtime: Runtime) -> None:
    issued = await runtime.auth.create_api_key("prometheus", Role.OPERATOR, actor=SYSTEM)
    await runtime.auth.authenticate(issued.key)
    await runtime.auth.revoke_api_key(issued.id, actor=SYSTEM)
    with pytest.raises(AuthError, match="API key revoked"):
        await runtime.auth.authenticate(issued.key)


async def test_a_revocation_made_elsewhere_is_seen_within_the_ttl(
    runtime: Runtime, clock: ManualClock
) -> None:
    issued = await runtime.auth.create_api_key("prometheus", Role.OPERATOR, actor=SYSTEM)
    await runtime.auth.authenticate(issued.key)
    await _revoke_in_the_store(runtime.database, issued.id, clock)
    clock.advance(1.0)
    # Documented: another instance's revocation reaches this one within the TTL (2 s).
    assert (await runtime.auth.authenticate(issued.key)).name == "prometheus"
    clock.advance(1.0)
    with pytest.raises(AuthError, match="API key revoked"):
        await runtime.auth.authenticate(issued.key)
    clock.advance(60.0)
    with pytest.raises(AuthError, match="API key revoked"):
        await runtime.auth.authenticate(issued.key)


async def test_a_ttl_of_zero_reads_the_store_every_time(
    runtime: Runtime, clock: ManualClock, fast_hasher: PasswordHasher
) -> None:
    auth = _service(runtime.database, clock, fast_hasher, ttl_s=0)
    issued = await auth.create_api_key("prometheus", Role.OPERATOR, actor=SYSTEM)
    await auth.authenticate(issued.key)
    await _revoke_in_the_store(runtime.database, issued.id, clock)
    with pytest.raises(AuthError, match="API key revoked"):
        await auth.authenticate(issued.key)


def test_a_negative_ttl_is_refused(
    clock: ManualClock, fast_hasher: PasswordHasher, tmp_path: Path
) -> None:
    database = Database(f"sqlite:///{tmp_path / 'unused.db'}")
    with pytest.raises(ValueError, match="api_key_cache_ttl_s"):
        _service(database, clock, fast_hasher, ttl_s=-1)


# -- the store down ----------------------------------------------------------------------


@pytest.fixture
async def own_database(sqlite_template: Path, tmp_path: Path) -> AsyncIterator[Database]:
    """A SQLite store in a directory of its own, so the test can take it away."""
    directory = tmp_path / "store"
    directory.mkdir()
    shutil.copyfile(sqlite_template, directory / "tradewarden.db")
    database = Database(f"sqlite:///{directory / 'tradewarden.db'}")
    before = set(_sqlite_threads())
    try:
        yield database
    finally:
        await database.dispose()
        # A connection the pool dropped when the store went away is stopped by its
        # finaliser, which hands the stop to this loop: run it while the loop still runs
        # and wait for the worker threads to end (afterwards their callback found a closed
        # loop and failed the next test).
        gc.collect()
        await eventually(lambda: not set(_sqlite_threads()) - before, timeout_s=10)


def _sqlite_threads() -> list[threading.Thread]:
    """Return aiosqlite's worker threads alive now."""
    return [t for t in threading.enumerate() if "_connection_worker_thread" in t.name]


def _service(
    database: Database, clock: ManualClock, hasher: PasswordHasher, *, ttl_s: float = 2.0
) -> AuthService:
    return AuthService(
        database,
        issuer=AccessTokenIssuer(generate_signing_key(), ttl_s=900),
        hasher=hasher,
        limiter=LoginRateLimiter(per_account=5, per_address=20, window_s=60),
        clock=clock,
        refresh_ttl_s=3600,
        api_key_cache_ttl_s=ttl_s,
    )


async def test_past_the_ttl_a_key_checked_before_is_trusted_while_the_store_is_down(
    own_database: Database, clock: ManualClock, fast_hasher: PasswordHasher
) -> None:
    auth = _service(own_database, clock, fast_hasher)
    checked = await auth.create_api_key("prometheus", Role.OPERATOR, actor=SYSTEM)
    never = await auth.create_api_key("other", Role.OPERATOR, actor=SYSTEM)
    principal = await auth.authenticate(checked.key)
    clock.advance(600.0)
    await own_database.dispose()
    directory = Path(str(own_database.url.database)).parent
    shutil.rmtree(directory)
    assert await auth.authenticate(checked.key) == principal
    with pytest.raises(SQLAlchemyError):
        await auth.authenticate(never.key)
