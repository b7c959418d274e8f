"""Issue 6's guard events, end to end through a served warden: a halt (on the control
API, and by a bot's risk engine on the shared back end), a guard breaker opening (shared
through Redis) and a risk limit breached in a bot the warden scrapes reach the channel
firing with their alertname and labels, and resolved when the cause goes away.

The rules are the shipped packs, unchanged. Two of them wait by design:
``CircuitBreakerOpen`` (``for: 1m``) and ``RiskLimitBreached`` (``increase(...[5m])``,
clear five minutes after the last breach); those tests move the warden's wall clock
forward instead of waiting. Each test records its cause-to-notification time as a
property (informational, never asserted).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from e2e._inputs_support import Rig, Warden, inbox, inputs_config, jump_clock, ms_since, rig
from guard.state._fixtures import SHARED_REDIS_URL, shared_redis_prefix
from support.eventually import eventually
from support.net import LOOPBACK
from tradewarden.guard.breaker import BreakerConfig, BreakerState, CircuitBreaker, RedisBreakerSync
from tradewarden.guard.metrics import MetricsServer
from tradewarden.guard.risk import (
    DailyLossLimit,
    PortfolioSnapshot,
    RiskEngine,
    RiskLimits,
    register_risk_metrics,
)
from tradewarden.guard.state import MemoryBackend, SQLiteBackend, TradingState
from tradewarden.guard.trading import KillSwitch
from tradewarden.rules import AlertState

__all__ = ["inbox", "jump_clock", "rig", "shared_redis_prefix"]

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

Record = Callable[[str, object], None]
DAILY_LOSS = RiskLimits(daily_loss=DailyLossLimit(max_loss=100))


def _pending(warden: Warden, alertname: str, **labels: str) -> bool:
    return any(
        alert.name == alertname
        and alert.state is AlertState.PENDING
        and all(alert.labels.get(k) == v for k, v in labels.items())
        for alert, _rule, _group in warden.runtime.rules.alerts()
    )


# --- the kill switch -------------------------------------------------------------------


async def test_a_halt_on_the_control_api_notifies_trading_halted_and_a_resume_resolves_it(
    rig: Rig, record_property: Record
) -> None:
    async with (
        rig.warden(inputs_config()) as warden,
        httpx.AsyncClient(base_url=warden.url, headers=warden.headers) as http,
    ):
        halted_at = asyncio.get_running_loop().time()
        response = await http.post("/api/kill-switch", json={"reason": "e2e: venue outage"})
        assert response.status_code == 200, response.text
        fired = await rig.inbox.wait_for("firing", "TradingHalted")
        record_property("cause_to_notification_ms", ms_since(halted_at, fired))
        assert fired.labels == {
            "alertname": "TradingHalted",
            "state": "HALTED",
            "severity": "critical",
        }
        # The seeds' alert on the guard's own gauge, from the warden's self-scrape.
        await rig.inbox.wait_for("firing", "KillSwitchActivated", job="tradewarden")
        response = await http.post("/api/kill-switch/resume", json={"reason": "e2e: venue back"})
        assert response.status_code == 200, response.text
        resolved = await rig.inbox.wait_for("resolved", "TradingHalted")
        assert resolved.labels == fired.labels
        await rig.inbox.wait_for("resolved", "KillSwitchActivated", job="tradewarden")


async def test_a_bots_risk_engine_halting_the_shared_switch_notifies_trading_halted(
    rig: Rig, tmp_path: Path, record_property: Record
) -> None:
    # The bot and the warden share the file back end; the bot's own risk engine halts.
    state_file = tmp_path / "trading_state.db"
    async with rig.warden(inputs_config(control={"trading_state_file": str(state_file)})):
        kill_switch = KillSwitch(SQLiteBackend(state_file))
        engine = RiskEngine(kill_switch, DAILY_LOSS)
        try:
            await asyncio.to_thread(engine.evaluate, PortfolioSnapshot(equity=1_000))
            halted_at = asyncio.get_running_loop().time()
            (breach,) = await asyncio.to_thread(engine.evaluate, PortfolioSnapshot(equity=850))
            assert breach.action is TradingState.HALTED
            fired = await rig.inbox.wait_for("firing", "TradingHalted", state="HALTED")
            record_property("cause_to_notification_ms", ms_since(halted_at, fired))
            await asyncio.to_thread(kill_switch.resume, "desk", "e2e: loss reviewed")
            await rig.inbox.wait_for("resolved", "TradingHalted", state="HALTED")
        finally:
            kill_switch.close()


# --- a breaker opens -------------------------------------------------------------------


def _venue_down() -> None:
    raise ConnectionError("the venue refused the connection")


def _fail_twice(breaker: CircuitBreaker) -> None:
    for _ in range(2):
        with pytest.raises(ConnectionError):
            breaker.call(_venue_down)
    assert breaker.state is BreakerState.OPEN


def _force_open(breaker: CircuitBreaker) -> None:
    breaker.force_open()
    assert breaker.state is BreakerState.FORCED_OPEN


@pytest.mark.parametrize(
    "trip",
    [pytest.param(_fail_twice, id="failures"), pytest.param(_force_open, id="forced-open")],
)
async def test_a_shared_guard_breaker_opening_notifies_circuit_breaker_open_and_closing_resolves(
    trip: Callable[[CircuitBreaker], None],
    rig: Rig,
    shared_redis_prefix: str,
    record_property: Record,
) -> None:
    prefix, channel = f"{shared_redis_prefix}:cb:", f"{shared_redis_prefix}:cb-events"
    settings = rig.settings.model_copy(update={"redis_url": SecretStr(SHARED_REDIS_URL)})
    config = inputs_config(control={"breaker_prefix": prefix, "breaker_channel": channel})
    # The bot's side: a breaker of the guard library, shared through the same Redis.
    sync = RedisBreakerSync(SHARED_REDIS_URL, prefix=prefix, channel=channel).start()
    breaker = CircuitBreaker("quote_api", BreakerConfig(failure_threshold=2, timeout_s=3600))
    try:
        async with rig.warden(config, settings) as warden:
            sync.attach(breaker)
            loop = asyncio.get_running_loop()
            opened_at = loop.time()
            trip(breaker)
            await eventually(lambda: _pending(warden, "CircuitBreakerOpen", name="quote_api"))
            record_property("cause_to_pending_ms", round(1000 * (loop.time() - opened_at)))
            assert rig.inbox.of("CircuitBreakerOpen") == []  # its for: 1m has not passed
            rig.clock.jump(61)
            jumped_at = loop.time()
            fired = await rig.inbox.wait_for("firing", "CircuitBreakerOpen", name="quote_api")
            record_property("for_passed_to_notification_ms", ms_since(jumped_at, fired))
            assert fired.labels == {
                "alertname": "CircuitBreakerOpen",
                "name": "quote_api",
                "severity": "warning",
            }
            breaker.reset()  # an operator closes it in the bot
            resolved = await rig.inbox.wait_for("resolved", "CircuitBreakerOpen", name="quote_api")
            assert resolved.labels == fired.labels
    finally:
        sync.close()


# --- a risk limit is breached -----------------------------------------------------------


async def _scraped(http: httpx.AsyncClient, query: str, value: float) -> bool:
    response = await http.get("/api/v1/query", params={"query": query})
    assert response.status_code == 200, response.text
    return any(float(r["value"][1]) == value for r in response.json()["data"]["result"])


async def test_a_risk_breach_in_a_scraped_bot_notifies_risk_limit_breached_until_the_window_passes(
    rig: Rig, record_property: Record
) -> None:
    # The bot: the guard's risk engine and its metrics on the bot's own /metrics.
    registry = CollectorRegistry()
    kill_switch = KillSwitch(MemoryBackend())
    engine = RiskEngine(kill_switch, DAILY_LOSS)
    register_risk_metrics(engine, registry)
    engine.evaluate(PortfolioSnapshot(equity=1_000))
    with MetricsServer(registry) as server:
        target = f"{LOOPBACK}:{server.port}"
        scrape = {
            "job_name": "bot",
            "scrape_interval": "0.5s",
            "static_configs": [{"targets": [target], "labels": {"bot": "sol-1"}}],
        }
        async with (
            rig.warden(inputs_config(scrape_configs=[scrape])) as warden,
            httpx.AsyncClient(base_url=warden.url, headers=warden.headers) as http,
        ):
            await eventually(lambda: _scraped(http, "risk_limit_breaches_total", 0.0))
            breached_at = asyncio.get_running_loop().time()
            (breach,) = engine.evaluate(PortfolioSnapshot(equity=850))  # lost 150 today
            assert breach.limit == "daily_loss"
            fired = await rig.inbox.wait_for("firing", "RiskLimitBreached", limit="daily_loss")
            record_property("cause_to_notification_ms", ms_since(breached_at, fired))
            assert fired.labels == {
                "alertname": "RiskLimitBreached",
                "limit": "daily_loss",
                "job": "bot",
                "instance": target,
                "bot": "sol-1",
                "severity": "critical",
            }
            # No further breach for five minutes: the increase over the window is 0.
            rig.clock.jump(301)
            resolved = await rig.inbox.wait_for("resolved", "RiskLimitBreached", limit="daily_loss")
            assert resolved.labels == fired.labels
    kill_switch.close()
