"""The kill switch, the trading state and the shared breakers through the real app: what
the API stores, bots on the same back end (in this process and in another) act on; every
attempt is audited; bad bodies are 422, a lost back end 503 without its password."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from guard.state._fixtures import SHARED_REDIS_URL, private_redis, shared_redis_prefix
from support.eventually import eventually
from support.http import bearer, login
from support.postgres_server import PostgresServer, make_base_dir
from support.redis_server import RedisServer
from tradewarden.api import create_app
from tradewarden.auth import PasswordHasher, Role
from tradewarden.clock import ManualClock
from tradewarden.config import ControlConfig, ServiceConfig, Settings
from tradewarden.guard.breaker import BreakerState, CircuitBreaker, RedisBreakerSync
from tradewarden.guard.state import RedisBackend, SQLiteBackend, StateBackend, TradingState
from tradewarden.guard.trading import DenialReason, KillSwitch, OrderSide
from tradewarden.runtime import SYSTEM, Runtime

__all__ = ["private_redis", "shared_redis_prefix"]

BOT = Path(__file__).parents[1] / "guard" / "trading" / "_bot.py"


@dataclass
class Warden:
    http: httpx.AsyncClient
    runtime: Runtime
    viewer: dict[str, str]
    operator: dict[str, str]
    admin: dict[str, str]

    async def post(self, path: str, body: Any = None, **kwargs: Any) -> httpx.Response:
        headers = kwargs.pop("headers", self.operator)
        return await self.http.post(path, json=body, headers=headers, **kwargs)

    async def status(self) -> dict[str, Any]:
        response = await self.http.get("/api/status", headers=self.viewer)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def audit(self, action: str) -> list[dict[str, Any]]:
        response = await self.http.get(
            "/v1/admin/audit", params={"action": action}, headers=self.admin
        )
        assert response.status_code == 200, response.text
        rows: list[dict[str, Any]] = response.json()
        return rows


@contextlib.asynccontextmanager
async def warden_with(
    settings: Settings, hasher: PasswordHasher, control: ControlConfig
) -> AsyncIterator[Warden]:
    runtime = Runtime(settings, ServiceConfig(control=control), clock=ManualClock(), hasher=hasher)
    await runtime.start(bootstrap_admin=False, connect_redis=False)
    try:
        keys = [
            await runtime.auth.create_api_key(role.label, role, actor=SYSTEM)
            for role in (Role.VIEWER, Role.OPERATOR, Role.ADMIN)
        ]
        transport = httpx.ASGITransport(
            app=create_app(runtime, manage_runtime=False), client=("127.0.0.1", 40003)
        )
        async with httpx.AsyncClient(transport=transport, base_url="http://w") as http:
            yield Warden(http, runtime, *(bearer(key.key) for key in keys))
    finally:
        await runtime.close()


@pytest.fixture
def state_file(tmp_path: Path) -> Path:
    return tmp_path / "bots" / "trading_state.db"


@pytest.fixture
async def warden(
    settings: Settings, fast_hasher: PasswordHasher, state_file: Path
) -> AsyncIterator[Warden]:
    control = ControlConfig(trading_state_backend="file", trading_state_file=state_file)
    async with warden_with(settings, fast_hasher, control) as running:
        yield running


@contextlib.contextmanager
def bot_switch(backend: StateBackend) -> Iterator[KillSwitch]:
    switch = KillSwitch(backend)
    try:
        yield switch
    finally:
        switch.close()
        backend.close()


def start_bot(out: Path, state_file: Path) -> subprocess.Popen[str]:
    """Start a bot process that keeps ``out`` holding its "STATE VERSION" until stdin closes."""
    return subprocess.Popen(
        [sys.executable, str(BOT), f"watch:{out}", f"sqlite:{state_file}"],
        stdin=subprocess.PIPE,
        text=True,
    )


def _with_redis(settings: Settings, url: str) -> Settings:
    return settings.model_copy(update={"redis_url": SecretStr(url)})


# -- the kill switch on the file back end --------------------------------------------------


async def test_a_kill_reaches_a_bot_on_the_same_file_and_a_resume_lets_it_trade(
    warden: Warden, state_file: Path
) -> None:
    with bot_switch(SQLiteBackend(state_file, poll_interval_s=0.05)) as bot:
        # A new file opened by the watch and the first load at once may read "locked"
        # for one poll (the switch then fails closed): wait for the first good read.
        await eventually(lambda: bot.active)
        response = await warden.post(
            "/api/kill-switch", {"reason": "emergency", "message": "Manual activation"}
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["changed"] is True
        assert body["audited"] is True
        assert body["state"]["state"] == "HALTED"
        assert body["state"]["kill_switch_active"] is True
        assert body["state"]["actor"] == "api_key:operator"
        assert body["previous"]["version"] == 0
        # Stored before the answer: a reader that never watched sees it now.
        stored = SQLiteBackend(state_file).load()
        assert stored is not None
        assert (stored.state, stored.reason, stored.message) == (
            TradingState.HALTED,
            "emergency",
            "Manual activation",
        )
        await eventually(lambda: not bot.active)
        assert bot.check_order(OrderSide.BUY, 5.0, 0.0).reason is DenialReason.TRADING_HALTED

        status = await warden.status()
        risk = status["risk"]
        assert risk["killSwitchActive"] is True
        assert risk["tradingState"] == "HALTED"
        assert (risk["actor"], risk["reason"], risk["version"]) == (
            "api_key:operator",
            "emergency",
            1,
        )
        assert risk["changedAt"] is not None
        assert "database" in status["health"]["checks"]

        again = await warden.post("/v1/kill-switch", {"reason": "pressed twice"})
        assert again.status_code == 200
        assert again.json()["changed"] is False
        assert again.json()["state"]["reason"] == "emergency"  # the first halt's why stays

        resumed = await warden.post("/v1/kill-switch/resume", {"reason": "all clear"})
        assert resumed.status_code == 200, resumed.text
        assert resumed.json()["state"]["state"] == "ACTIVE"
        await eventually(lambda: bot.active)
        assert (await warden.status())["risk"]["killSwitchActive"] is False

    halts = await warden.audit("trading.halt")
    assert [row["reason"] for row in halts] == ["pressed twice", "emergency"]
    first = halts[-1]
    assert (first["actor"], first["actor_type"], first["outcome"], first["target"]) == (
        "api_key:operator",
        "api_key",
        "success",
        "trading_state",
    )
    assert first["details"] == {
        "message": "Manual activation",
        "changed": True,
        "from": "ACTIVE",
        "to": "HALTED",
        "version": 1,
        "backend": "file",
    }
    assert halts[0]["details"]["changed"] is False
    (resume,) = await warden.audit("trading.resume")
    assert resume["details"]["to"] == "ACTIVE"

    history = await warden.http.get("/v1/trading/history", headers=warden.viewer)
    assert [(c["version"], c["state"]) for c in history.json()] == [(2, "ACTIVE"), (1, "HALTED")]


async def test_a_bot_in_another_process_refuses_after_a_kill(
    warden: Warden, state_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / "bot.txt"
    bot = start_bot(out, state_file)
    try:
        await eventually(lambda: out.exists() and out.read_text() == "ACTIVE 0", timeout_s=30)
        response = await warden.post("/api/kill-switch", {"reason": "emergency"})
        assert response.status_code == 200
        await eventually(lambda: out.read_text() == "HALTED 1", timeout_s=10)
        response = await warden.post("/api/kill-switch/resume", {"reason": "all clear"})
        assert response.status_code == 200
        await eventually(lambda: out.read_text() == "ACTIVE 2", timeout_s=10)
    finally:
        assert bot.stdin is not None
        bot.stdin.close()
        bot.wait(timeout=30)


async def test_a_kill_outlives_the_warden_that_stored_it(
    settings: Settings, fast_hasher: PasswordHasher, state_file: Path
) -> None:
    control = ControlConfig(trading_state_file=state_file)
    async with warden_with(settings, fast_hasher, control) as first:
        assert (await first.post("/api/kill-switch", {"reason": "emergency"})).status_code == 200
    async with warden_with(settings, fast_hasher, control) as second:
        risk = (await second.status())["risk"]
    assert (risk["killSwitchActive"], risk["reason"]) == (True, "emergency")


async def test_the_service_exposes_the_trading_state_on_metrics(
    settings: Settings, fast_hasher: PasswordHasher, state_file: Path
) -> None:
    runtime = Runtime(
        settings,
        ServiceConfig(control=ControlConfig(trading_state_file=state_file)),
        clock=ManualClock(),
        hasher=fast_hasher,
    )
    await runtime.start(bootstrap_admin=False, connect_redis=False, run_probes=True)
    try:
        assert runtime.control is not None
        await runtime.control.trading.halt("alice", "emergency")
        transport = httpx.ASGITransport(app=create_app(runtime, manage_runtime=False))
        async with httpx.AsyncClient(transport=transport, base_url="http://w") as http:

            async def halted() -> bool:
                text = (await http.get("/metrics")).text
                return "\ntrading_state 2.0\n" in text

            await eventually(halted)
    finally:
        await runtime.close()


async def test_a_kill_without_a_body_still_halts(warden: Warden) -> None:
    # The seeds' shutdown checklist: curl -X POST .../api/kill-switch, no body.
    response = await warden.http.post("/api/kill-switch", headers=warden.operator)
    assert response.status_code == 200, response.text
    assert response.json()["state"]["reason"] == "no reason given"


async def test_reduce_and_a_partial_resume(warden: Warden, state_file: Path) -> None:
    with bot_switch(SQLiteBackend(state_file, poll_interval_s=0.05)) as bot:
        response = await warden.post("/v1/kill-switch/reduce", {"reason": "drawdown"})
        assert response.json()["state"]["state"] == "REDUCING"
        await eventually(lambda: bot.state is TradingState.REDUCING)
        assert bot.check_order(OrderSide.BUY, 5.0, 0.0).reason is DenialReason.TRADING_REDUCING
        assert bot.check_order(OrderSide.SELL, 5.0, 10.0).allowed
        await warden.post("/api/kill-switch", {"reason": "worse"})
        partial = await warden.post(
            "/api/kill-switch/resume", {"reason": "unwind only", "to": "REDUCING"}
        )
        assert partial.json()["state"]["state"] == "REDUCING"
        await eventually(lambda: bot.state is TradingState.REDUCING)
    status = (await warden.status())["risk"]
    assert (status["killSwitchActive"], status["tradingState"]) == (False, "REDUCING")


async def test_a_viewer_is_refused_and_the_attempt_audited(warden: Warden) -> None:
    for path in ("/api/kill-switch", "/v1/kill-switch/resume"):
        response = await warden.post(path, {"reason": "curious"}, headers=warden.viewer)
        assert response.status_code == 403
    assert (await warden.status())["risk"]["version"] == 0
    denied = await warden.audit("POST /api/kill-switch")
    assert [(row["actor"], row["outcome"]) for row in denied] == [("api_key:viewer", "denied")]
    assert not await warden.audit("trading.halt")
    anonymous = await warden.http.post("/api/kill-switch", json={"reason": "x"})
    assert anonymous.status_code == 401


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/kill-switch/resume", {}, "body.reason"),
        ("/v1/kill-switch/resume", {"reason": ""}, "body.reason"),
        ("/v1/kill-switch/resume", {"reason": "x", "to": "HALTED"}, "body.to"),
        ("/api/kill-switch", {"reason": ""}, "body.reason"),
        ("/api/kill-switch", {"reason": 5}, "body.reason"),
        ("/api/kill-switch", {"reason": "x", "message": "m" * 2001}, "body.message"),
        ("/api/kill-switch", {"reason": "x", "halt": True}, "body.halt"),
        ("/api/circuit-breakers/jupiter/close", {}, "body.reason"),
        ("/api/circuit-breakers/jup*ter/open", {"reason": "x"}, "path.name"),
    ],
)
async def test_bad_bodies_are_422_naming_the_field(
    warden: Warden, path: str, body: dict[str, Any], field: str
) -> None:
    response = await warden.post(path, body)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert field in [item["field"] for item in error["fields"]]
    assert (await warden.status())["risk"]["version"] == 0


async def test_an_unusable_state_file_is_503_audited_and_nothing_is_kept(
    settings: Settings, fast_hasher: PasswordHasher, tmp_path: Path
) -> None:
    path = tmp_path / "state.db"
    path.mkdir()  # a directory where the file should be
    control = ControlConfig(trading_state_backend="file", trading_state_file=path)
    async with warden_with(settings, fast_hasher, control) as warden:
        response = await warden.post("/api/kill-switch", {"reason": "emergency"})
        assert response.status_code == 503
        assert "trading state (file) unavailable" in response.json()["error"]["message"]
        (row,) = await warden.audit("trading.halt")
        assert (row["outcome"], row["reason"]) == ("error", "emergency")
        assert "unavailable" in row["details"]["error"]
        risk = (await warden.status())["risk"]
        assert (risk["stateReadable"], risk["killSwitchActive"]) == (False, None)
        state = await warden.http.get("/v1/trading/state", headers=warden.viewer)
        assert state.status_code == 503
        path.rmdir()
        # The refused halt is not written later behind the operator's back.
        state = await warden.http.get("/v1/trading/state", headers=warden.viewer)
        assert state.json()["version"] == 0


# -- the kill switch on Redis --------------------------------------------------------------


@pytest.mark.redis
async def test_a_kill_on_the_redis_back_end_reaches_a_bot(
    settings: Settings, fast_hasher: PasswordHasher, shared_redis_prefix: str
) -> None:
    control = ControlConfig(trading_state_backend="redis", trading_state_prefix=shared_redis_prefix)
    async with warden_with(_with_redis(settings, SHARED_REDIS_URL), fast_hasher, control) as w:
        backend = RedisBackend(SHARED_REDIS_URL, prefix=shared_redis_prefix)
        with bot_switch(backend) as bot:
            await eventually(lambda: bot.active)
            response = await w.post("/v1/kill-switch", {"reason": "emergency"})
            assert response.status_code == 200, response.text
            await eventually(lambda: not bot.active)
            assert bot.current.actor == "api_key:operator"
        assert (await w.status())["risk"]["backend"] == "redis"


@pytest.mark.redis
async def test_a_stopped_redis_is_503_without_its_password(
    settings: Settings, fast_hasher: PasswordHasher, tmp_path: Path
) -> None:
    secret = "c0ntrol-pa55word"
    with RedisServer(tmp_path / "redis", password=secret) as server:
        control = ControlConfig(trading_state_backend="redis", redis_timeout_s=0.5)
        async with warden_with(_with_redis(settings, server.url()), fast_hasher, control) as w:
            assert (await w.post("/api/kill-switch", {"reason": "first"})).status_code == 200
            server.stop()
            responses = [
                await w.post("/api/kill-switch/resume", {"reason": "all clear"}),
                await w.http.get("/api/circuit-breakers", headers=w.viewer),
                await w.post("/api/circuit-breakers/jupiter/open", {"reason": "flaky"}),
            ]
            for response in responses:
                assert response.status_code == 503, response.text
                assert secret not in response.text
            (resume,) = await w.audit("trading.resume")
            assert resume["outcome"] == "error"
            assert secret not in str(resume["details"])
            risk = (await w.status())["risk"]
            assert risk["stateReadable"] is False
            assert secret not in risk["error"]


# -- circuit breakers ----------------------------------------------------------------------


async def test_breakers_without_redis_are_409(warden: Warden) -> None:
    listed = await warden.http.get("/api/circuit-breakers", headers=warden.viewer)
    assert listed.status_code == 409
    assert "REDIS_URL" in listed.json()["error"]["message"]
    closed = await warden.post("/api/circuit-breakers/jupiter/close", {"reason": "recovered"})
    assert closed.status_code == 409
    (row,) = await warden.audit("breaker.close")
    assert row["outcome"] == "error"


@pytest.mark.redis
async def test_a_breaker_opened_over_the_api_is_taken_up_by_a_bot(
    settings: Settings, fast_hasher: PasswordHasher, shared_redis_prefix: str
) -> None:
    prefix, channel = f"{shared_redis_prefix}:cb:", f"{shared_redis_prefix}:cb-events"
    control = ControlConfig(breaker_prefix=prefix, breaker_channel=channel)
    sync = RedisBreakerSync(SHARED_REDIS_URL, prefix=prefix, channel=channel, poll_interval_s=60)
    async with warden_with(_with_redis(settings, SHARED_REDIS_URL), fast_hasher, control) as w:
        with sync:
            breaker = CircuitBreaker("jupiter")
            sync.attach(breaker)
            opened = await w.post("/api/circuit-breakers/jupiter/open", {"reason": "flaky"})
            assert opened.status_code == 200, opened.text
            assert opened.json()["before"] is None
            assert opened.json()["after"]["state"] == "FORCED_OPEN"
            await eventually(lambda: breaker.state is BreakerState.FORCED_OPEN)

            listed = await w.http.get("/v1/circuit-breakers", headers=w.viewer)
            assert [(b["name"], b["state"]) for b in listed.json()] == [("jupiter", "FORCED_OPEN")]
            viewer = await w.post(
                "/api/circuit-breakers/jupiter/close", {"reason": "x"}, headers=w.viewer
            )
            assert viewer.status_code == 403
            closed = await w.post("/api/circuit-breakers/jupiter/close", {"reason": "recovered"})
            assert closed.json()["before"]["state"] == "FORCED_OPEN"
            await eventually(lambda: breaker.state is BreakerState.CLOSED)
            reset = await w.post("/v1/circuit-breakers/jupiter/reset", {"reason": "tidy"})
            assert reset.json()["after"]["failure_count"] == 0
            unknown = await w.post("/api/circuit-breakers/nobody/close", {"reason": "typo"})
            assert unknown.status_code == 404

        (open_row,) = await w.audit("breaker.open")
        assert (open_row["target"], open_row["reason"], open_row["outcome"]) == (
            "jupiter",
            "flaky",
            "success",
        )
        assert open_row["details"] == {"forced": True, "from": None, "to": "FORCED_OPEN"}
        closes = await w.audit("breaker.close")
        assert [(row["target"], row["outcome"]) for row in closes] == [
            ("nobody", "error"),
            ("jupiter", "success"),
        ]
        denied = await w.audit("POST /api/circuit-breakers/{name}/close")
        assert [row["outcome"] for row in denied] == ["denied"]


# -- a database outage ---------------------------------------------------------------------


@pytest.fixture
def private_postgres() -> Iterator[PostgresServer]:
    base = make_base_dir()
    try:
        with PostgresServer(base) as server:
            yield server
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.postgres
@pytest.mark.slow
async def test_a_kill_during_a_database_outage_is_stored_and_answered_200(
    private_postgres: PostgresServer, fast_hasher: PasswordHasher, tmp_path: Path, backend: str
) -> None:
    if backend != "postgresql" and not os.environ.get("TW_TEST_ALWAYS_PG_OUTAGE"):
        pytest.skip("the PostgreSQL outage test runs in the PostgreSQL pass")
    state_file = tmp_path / "state.db"
    settings = Settings(database_url=private_postgres.url("postgres"), data_dir=tmp_path)
    control = ControlConfig(trading_state_file=state_file)
    async with warden_with(settings, fast_hasher, control) as warden:
        await warden.runtime.auth.create_user(
            "olga", "olga-password-1", Role.OPERATOR, actor=SYSTEM
        )
        tokens = await login(warden.http, "olga", "olga-password-1")
        headers = bearer(tokens["access_token"])
        private_postgres.stop()
        # The access token is trusted on its claims; the audit row cannot be written, but
        # the halt is stored, so the answer is 200 and says so.
        response = await warden.post("/api/kill-switch", {"reason": "db down"}, headers=headers)
        assert response.status_code == 200, response.text
        assert (response.json()["changed"], response.json()["audited"]) == (True, False)
        stored = SQLiteBackend(state_file).load()
        assert stored is not None
        assert (stored.state, stored.actor) == (TradingState.HALTED, "olga")
        private_postgres.start()
