"""The heartbeat clients' peers: a real warden, a closed port, a server that hangs."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator

import pytest

from support.net import LOOPBACK, free_port
from tradewarden.auth import PasswordHasher
from tradewarden.clock import ManualClock
from tradewarden.config import Settings

from ._warden import TOKEN, TOKEN_ENV, Warden, serve_warden


@pytest.fixture
async def warden(
    settings: Settings,
    fast_hasher: PasswordHasher,
    clock: ManualClock,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Warden]:
    """Serve a warden from this test's loop; the clients' threads reach it over loopback."""
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    async with serve_warden(settings, fast_hasher, clock) as served:
        yield served


@pytest.fixture
def closed_port() -> str:
    """Return the URL of a loopback port nobody listens on."""
    return f"http://{LOOPBACK}:{free_port()}"


@pytest.fixture
def hanging_server() -> Iterator[str]:
    """Return the URL of a server that accepts connections and never answers."""
    with socket.create_server((LOOPBACK, 0), backlog=64) as sock:
        yield f"http://{LOOPBACK}:{sock.getsockname()[1]}"
