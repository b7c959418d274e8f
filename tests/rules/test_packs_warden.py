"""The packs, the seeds' verbatim files and the monitors' defaults in the warden's own rule
manager, over the real engine and store: they load, every rule evaluates, and the same
data fires the same alerts as promtool's unit tests say."""

from __future__ import annotations

from collections.abc import Callable

from tradewarden.clock import ManualClock
from tradewarden.config._file import parse_config_text
from tradewarden.promql import Engine
from tradewarden.rules import (
    AlertState,
    MemorySink,
    RuleHealth,
    RuleManager,
    RuleManagerOptions,
    engine_query,
    load_rule_files,
    parse_rule_document,
)
from tradewarden.rules._defaults import default_rule_file
from tradewarden.rules.packs import pack_files, seed_files
from tradewarden.series import Labels
from tradewarden.series._store import SeriesStore

START_S = 1_700_000_000.0
STEP_S = 30.0
BOT = {"job": "bot", "instance": "bot:9100"}

# Each series as a function of the step number (every 30 s).
SCENARIO: dict[Labels, Callable[[int], float]] = {
    Labels.of(__name__="up", job="volume-bot-worker", instance="w1:9100"): lambda _: 0.0,
    Labels.of(__name__="up", **BOT): lambda _: 1.0,
    Labels.of(__name__="rpc_health_status", provider="helius", **BOT): lambda _: 0.0,
    Labels.of(__name__="circuit_breaker_state", name="rpc_pool", **BOT): lambda _: 1.0,
    # A third of the orders fail (the guard's metric names and labels).
    Labels.of(__name__="orders_total", status="filled", **BOT): lambda i: 6.0 * i,
    Labels.of(__name__="orders_total", status="failed", **BOT): lambda i: 3.0 * i,
    Labels.of(__name__="orders_failed_total", **BOT): lambda i: 3.0 * i,
    Labels.of(__name__="exchange_balance", asset="USDT", exchange="binance"): lambda _: 50.0,
    Labels.of(__name__="exchange_balance_usdt", **BOT): lambda _: 50.0,
    Labels.of(__name__="redis_up", monitor="cache"): lambda _: 0.0,
    Labels.of(__name__="trading_state", **BOT): lambda _: 2.0,
    Labels.of(__name__="monitor_state", monitor="api", state="DOWN"): lambda _: 1.0,
    Labels.of(__name__="process_resident_memory_bytes", **BOT): lambda _: 2.0 * 1024**3,
}

MONITORS = """
monitors:
  - name: api
    kind: http
    url: http://127.0.0.1:9/health
"""


async def test_packs_seeds_and_defaults_load_evaluate_and_fire() -> None:
    store = SeriesStore()
    clock = ManualClock(START_S)
    manager = RuleManager(
        query=engine_query(Engine(store)),
        storage=store,
        appender=store,
        clock=clock,
        sink=MemorySink(),
        options=RuleManagerOptions(evaluation_interval_ms=3_600_000),
    )
    defaults = parse_rule_document(
        default_rule_file(parse_config_text(MONITORS).monitors), "<defaults>"
    )
    specs = load_rule_files([*pack_files(), *seed_files()])
    manager.apply([*specs, *defaults])
    for step in range(41):  # 20 minutes
        t_ms = int(clock.now() * 1000)
        for labels, value in SCENARIO.items():
            store.append(labels, t_ms, value(step))
        await manager.evaluate_now()
        clock.advance(STEP_S)

    rules = [(group, rule) for group in manager.groups() for rule in group.rules]
    assert len(rules) == sum(len(spec.rules) for spec in [*specs, *defaults])
    unhealthy = [
        (group.name, rule.name, rule.last_error)
        for group, rule in rules
        if rule.health is not RuleHealth.OK
    ]
    assert unhealthy == []

    firing: dict[str, set[str]] = {}
    for alert, _rule, group in manager.alerts():
        if alert.state is AlertState.FIRING:
            firing.setdefault(group.spec.file.rsplit("/", 1)[-1], set()).add(alert.name)
            for name, text in alert.annotations:
                assert "error expanding template" not in text, (alert.name, name, text)
    assert firing == {
        "workers.yml": {"WorkerDown"},
        "rpc.yml": {"RPCProviderDown"},
        "breakers.yml": {"CircuitBreakerOpen"},
        "orders.yml": {"HighOrderFailureRate", "LowTradeSuccessRate"},
        "balances.yml": {"LowExchangeBalance"},
        "redis.yml": {"RedisConnectionIssues"},
        "trading.yml": {"KillSwitchActivated"},
        "system.yml": {"HighMemoryUsage"},
        "<defaults>": {"MonitorDown"},
        # The seeds, verbatim: the same outages, but not the order failures (seed 003's
        # division matches no pair of series) nor Redis (seed 001 reads a client count
        # that a Redis that does not answer has not got).
        "seed_000.yml": {"WorkerDown", "RPCProviderDown", "HighMemoryUsage"},
        "seed_001.yml": {"CircuitBreakerOpen"},
        "seed_003.yml": {"LowExchangeBalance"},
    }
    description = next(
        dict(alert.annotations)["description"]
        for alert, _rule, group in manager.alerts()
        if alert.name == "HighOrderFailureRate" and group.spec.file.endswith("orders.yml")
    )
    assert description == (
        "33.33 % of the orders of bot:9100 failed over the last 5 minutes (threshold: 10 %)."
    )
