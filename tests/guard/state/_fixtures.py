"""Redis fixtures of the trading-state tests: the shared server (unique prefix), private ones."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.redis_server import RedisServer

SHARED_REDIS_URL = os.environ.get("TW_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _shared_redis_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1.0) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@pytest.fixture
def shared_redis_prefix() -> Iterator[str]:
    """Return a key prefix of its own on the shared Redis; delete its keys afterwards."""
    if "TW_TEST_REDIS_URL" not in os.environ and not _shared_redis_answers():
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail("the shared Redis at 127.0.0.1:6379 is not answering")
        pytest.skip("no Redis at 127.0.0.1:6379")
    prefix = f"tw-test:{uuid.uuid4().hex}"
    yield prefix
    import redis

    client = redis.Redis.from_url(SHARED_REDIS_URL)
    keys = list(client.scan_iter(match=f"{prefix}:*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """Return a private redis-server that a test may stop and start."""
    with RedisServer(tmp_path / "redis") as server:
        yield server
