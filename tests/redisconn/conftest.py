"""Fixtures for the managed Redis client: private redis-servers and clients closed after use."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from support.redis_server import RedisServer
from tradewarden.redisconn import ManagedRedis

MakeManaged = Callable[..., ManagedRedis]


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """Return a private, running redis-server without a password."""
    with RedisServer(tmp_path) as server:
        yield server


@pytest.fixture
def password_redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """Return a private, running redis-server started with ``--requirepass s3cret``."""
    with RedisServer(tmp_path, password="s3cret") as server:
        yield server


@pytest.fixture
async def make_managed() -> AsyncIterator[MakeManaged]:
    """Return a factory of ManagedRedis clients tuned for quick tests; close them after."""
    created: list[ManagedRedis] = []

    def make(url: str, **options: Any) -> ManagedRedis:
        options.setdefault("health_check_interval_s", 0.05)
        options.setdefault("connect_timeout_s", 1.0)
        options.setdefault("offline_queue_timeout_s", 10.0)
        managed = ManagedRedis(url, **options)
        created.append(managed)
        return managed

    yield make
    for managed in created:
        await managed.close()
