"""Shared fixtures: a migrated store on SQLite (default) or PostgreSQL, a runtime, an API client.

The suite runs once per back end: ``TW_TEST_DATABASE_URL=postgresql://...`` selects
PostgreSQL (each pytest session gets a database of its own, created and dropped here);
without it every test gets a fresh SQLite file.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from support.http import login
from tradewarden.api import create_app
from tradewarden.auth import PasswordHasher, Role
from tradewarden.clock import ManualClock
from tradewarden.config import ServiceConfig, Settings
from tradewarden.runtime import SYSTEM, Runtime
from tradewarden.store import Base, Database, upgrade

ADMIN_PASSWORD = "admin-password-for-tests"
_ENV_PREFIXES = ("TRADEWARDEN_", "OTEL_", "SENTRY_")
_ENV_NAMES = ("DATABASE_URL", "REDIS_URL", "LOG_LEVEL")


def in_ci() -> bool:
    """Return whether missing services must fail the run instead of skipping."""
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the developer's or CI's own settings out of every test."""
    for name in list(os.environ):
        if name.startswith(_ENV_PREFIXES) or name.removesuffix("_FILE") in _ENV_NAMES:
            monkeypatch.delenv(name, raising=False)


def _postgres_admin_url() -> str | None:
    return os.environ.get("TW_TEST_DATABASE_URL") or None


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str | None]:
    """Create a database for this session on the PostgreSQL back end; drop it at the end."""
    admin_url = _postgres_admin_url()
    if admin_url is None:
        yield None
        return
    name = f"tw_test_{os.getpid()}_{secrets.token_hex(3)}"

    async def _run(statement: str) -> None:
        database = Database(admin_url)
        try:
            async with database.engine.connect() as connection:
                autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
                await autocommit.execute(text(statement))
        finally:
            await database.dispose()

    asyncio.run(_run(f'CREATE DATABASE "{name}"'))
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)

    async def _migrate() -> None:
        database = Database(url)
        try:
            await upgrade(database)
        finally:
            await database.dispose()

    asyncio.run(_migrate())
    try:
        yield url
    finally:
        asyncio.run(_run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Migrate one SQLite file once; each test copies it."""
    path = tmp_path_factory.mktemp("template") / "template.db"

    async def _migrate() -> None:
        database = Database(f"sqlite:///{path}")
        try:
            await upgrade(database)
        finally:
            await database.dispose()

    asyncio.run(_migrate())
    return path


@pytest.fixture
def database_url(postgres_url: str | None, sqlite_template: Path, tmp_path: Path) -> Iterator[str]:
    """Return a migrated, empty database for this test."""
    if postgres_url is not None:
        yield postgres_url
        asyncio.run(_truncate(postgres_url))
        return
    path = tmp_path / "tradewarden.db"
    shutil.copyfile(sqlite_template, path)
    yield f"sqlite:///{path}"


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    """Return a Database over this test's migrated, empty store; disposed afterwards."""
    database = Database(database_url)
    try:
        yield database
    finally:
        await database.dispose()


async def _truncate(url: str) -> None:
    database = Database(url)
    try:
        async with database.engine.begin() as connection:
            tables = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
            await connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    finally:
        await database.dispose()


@pytest.fixture
def backend(postgres_url: str | None) -> str:
    """Return which store back end this run uses."""
    return "postgresql" if postgres_url else "sqlite"


@pytest.fixture
def clock() -> ManualClock:
    """Return a clock that tests move by hand."""
    return ManualClock(start=1_800_000_000.0)


@pytest.fixture
def fast_hasher() -> PasswordHasher:
    """Return an argon2 hasher with test-sized costs (production costs take ~100 ms a hash)."""
    return PasswordHasher(time_cost=1, memory_cost_kib=1024, parallelism=1)


@pytest.fixture
def service_config() -> ServiceConfig:
    """Return the config file contents for this test (override to change)."""
    return ServiceConfig()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """Return settings pointing at this test's database."""
    return Settings(database_url=database_url, data_dir=tmp_path / "data")


@pytest.fixture
async def runtime(
    settings: Settings,
    service_config: ServiceConfig,
    clock: ManualClock,
    fast_hasher: PasswordHasher,
) -> AsyncIterator[Runtime]:
    """Return a started runtime with an admin user (``admin`` / ``ADMIN_PASSWORD``)."""
    runtime = Runtime(settings, service_config, clock=clock, hasher=fast_hasher)
    await runtime.start(bootstrap_admin=False)
    await runtime.auth.create_user("admin", ADMIN_PASSWORD, Role.ADMIN, actor=SYSTEM)
    try:
        yield runtime
    finally:
        await runtime.close()


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    """Return an HTTP client bound to the app in-process (client address 127.0.0.1)."""
    app = create_app(runtime, manage_runtime=False)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://warden") as http:
        yield http


@pytest.fixture
async def admin_headers(client: httpx.AsyncClient) -> dict[str, str]:
    """Return headers carrying an admin access token."""
    tokens = await login(client, "admin", ADMIN_PASSWORD)
    return {"Authorization": f"Bearer {tokens['access_token']}"}
