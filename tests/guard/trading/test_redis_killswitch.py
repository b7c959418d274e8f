"""The kill switch over Redis: real restarts, real processes, and the outage policies."""

from __future__ import annotations

from pathlib import Path

import pytest

from guard.state._fixtures import SHARED_REDIS_URL
from support.eventually import eventually
from support.redis_server import RedisServer
from tradewarden.guard.state import RedisBackend, StateUnavailableError, TradingState
from tradewarden.guard.trading import KillSwitch, UnreadablePolicy

from .test_processes import bots_follow_a_halt, run_bot

pytestmark = pytest.mark.redis


def backend_on(server: RedisServer) -> RedisBackend:
    return RedisBackend(server.url(), prefix="tw", socket_timeout_s=0.5)


async def test_a_halt_survives_a_redis_restart(private_redis: RedisServer) -> None:
    backend = backend_on(private_redis)
    bot = KillSwitch(backend)
    bot.halt("operator:alice", "before the restart")
    private_redis.stop()
    await eventually(lambda: bot.unreadable)
    assert bot.state is TradingState.HALTED
    private_redis.start()  # no persistence: Redis comes back empty
    await eventually(lambda: not bot.unreadable)
    assert bot.state is TradingState.HALTED
    # A bot process started after the restart reads the halt the survivor wrote back.
    assert run_bot("state", f"redis:{private_redis.url()}|tw") == "HALTED readable"
    bot.close()
    backend.close()


async def test_losing_redis_halts_an_active_bot_by_default(private_redis: RedisServer) -> None:
    closed_backend, keeping_backend = backend_on(private_redis), backend_on(private_redis)
    closed = KillSwitch(closed_backend)
    keeping = KillSwitch(keeping_backend, on_unreadable=UnreadablePolicy.KEEP_LAST_KNOWN)
    assert closed.active
    private_redis.stop()
    await eventually(lambda: closed.unreadable and keeping.unreadable)
    assert closed.state is TradingState.HALTED
    assert keeping.state is TradingState.ACTIVE
    private_redis.start()
    await eventually(lambda: closed.active)
    assert not closed.unreadable
    for switch in (closed, keeping):
        switch.close()
    closed_backend.close()
    keeping_backend.close()


async def test_a_halt_during_an_outage_is_stored_when_redis_returns(
    private_redis: RedisServer,
) -> None:
    backend = backend_on(private_redis)
    bot = KillSwitch(backend, on_unreadable=UnreadablePolicy.KEEP_LAST_KNOWN)
    private_redis.stop()
    await eventually(lambda: bot.unreadable)
    with pytest.raises(StateUnavailableError):
        bot.halt("risk:daily_loss", "limit crossed in the outage")
    assert bot.state is TradingState.HALTED
    private_redis.start()
    await eventually(lambda: not bot.unreadable)
    stored = backend_on(private_redis).load()
    assert stored is not None
    assert (stored.state, stored.actor) == (TradingState.HALTED, "risk:daily_loss")
    bot.close()
    backend.close()


async def test_bot_processes_on_redis_all_follow_a_halt(
    shared_redis_prefix: str, tmp_path: Path
) -> None:
    spec = f"redis:{SHARED_REDIS_URL}|{shared_redis_prefix}"
    await bots_follow_a_halt(
        tmp_path, spec, lambda: RedisBackend(SHARED_REDIS_URL, prefix=shared_redis_prefix)
    )
