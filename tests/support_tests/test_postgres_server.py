"""PostgresServer against real PostgreSQL binaries: start, stop, restart, failure reports."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TypeVar

import asyncpg
import pytest

from support.postgres_server import (
    PostgresServer,
    PostgresServerError,
    find_bindir,
    make_base_dir,
)

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

T = TypeVar("T")

_CONNECTION_ERRORS = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError)


@pytest.fixture
def bindir() -> Path:
    """Return the PostgreSQL binaries; skip without them, except in CI, which must have them."""
    try:
        return find_bindir()
    except PostgresServerError as exc:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(str(exc))


@pytest.fixture
def base_dir(bindir: Path) -> Iterator[Path]:
    """Yield a fresh base directory the postgres user can reach.

    Not pytest's tmp_path: as root it sits under /tmp/pytest-of-root/ (mode 700), which the
    postgres user cannot enter. make_base_dir() creates a 0o755 directory under /tmp instead.
    """
    path = make_base_dir()
    yield path
    shutil.rmtree(path)


@pytest.fixture
def server(base_dir: Path) -> Iterator[PostgresServer]:
    with PostgresServer(base_dir) as running:
        yield running


async def _eventually(probe: Callable[[], Awaitable[T]], timeout_s: float = 10.0) -> T:
    """Return the probe's result once it passes its assertion; re-raise at the deadline."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        try:
            return await probe()
        except AssertionError:
            if loop.time() >= deadline:
                raise
        await asyncio.sleep(0.05)


async def _fetchval(dsn: str, query: str) -> object:
    connection = await asyncpg.connect(dsn, timeout=5)
    try:
        return await connection.fetchval(query)
    finally:
        await connection.close()


async def _connection_error(dsn: str) -> BaseException:
    try:
        connection = await asyncpg.connect(dsn, timeout=2)
    except _CONNECTION_ERRORS as exc:
        return exc
    await connection.close()
    raise AssertionError(f"{dsn} still accepts connections")


async def test_started_server_answers_queries(server: PostgresServer) -> None:
    assert await _fetchval(server.dsn, "SELECT 1") == 1
    assert await _fetchval(server.dsn, "SHOW fsync") == "off"


async def test_stopped_server_refuses_connections(server: PostgresServer) -> None:
    server.stop()

    error = await _eventually(lambda: _connection_error(server.dsn))

    assert isinstance(error, _CONNECTION_ERRORS)
    assert not server.running


async def test_restarted_server_keeps_port_and_data(server: PostgresServer) -> None:
    connection = await asyncpg.connect(server.dsn, timeout=5)
    try:
        await connection.execute("CREATE TABLE survivor (id int PRIMARY KEY, name text)")
        await connection.execute("INSERT INTO survivor VALUES (1, 'kept')")
    finally:
        await connection.close()
    dsn_before = server.dsn

    server.stop()
    await _eventually(lambda: _connection_error(server.dsn))
    server.start()

    assert server.dsn == dsn_before
    assert await _fetchval(server.dsn, "SELECT name FROM survivor WHERE id = 1") == "kept"


def test_url_names_the_asyncpg_driver_and_database(base_dir: Path) -> None:
    server = PostgresServer(base_dir, port=54321)

    assert server.dsn == "postgresql://postgres@127.0.0.1:54321/postgres"
    assert server.url("tradewarden") == "postgresql+asyncpg://postgres@127.0.0.1:54321/tradewarden"


def test_context_manager_stops_server_even_on_error(base_dir: Path) -> None:
    server = PostgresServer(base_dir)

    running_inside: list[bool] = []

    def use_then_fail() -> None:
        with server:
            running_inside.append(server.running)
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        use_then_fail()

    assert running_inside == [True]
    assert not server.running


def test_start_on_a_taken_port_reports_the_server_log(base_dir: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        server = PostgresServer(base_dir, port=squatter.getsockname()[1])
        server.init()

        with pytest.raises(PostgresServerError, match="server log") as excinfo:
            server.start(timeout_s=30)

    assert "could not bind" in str(excinfo.value) or "could not create" in str(excinfo.value)
    assert not server.running


@pytest.mark.skipif(os.geteuid() != 0, reason="only root hands base_dir to the postgres user")
def test_unreachable_base_dir_is_refused_with_advice(bindir: Path, tmp_path: Path) -> None:
    hidden = tmp_path / "hidden"
    hidden.mkdir(mode=0o700)
    server = PostgresServer(hidden / "pg")

    with pytest.raises(PostgresServerError, match="make_base_dir"):
        server.init()
