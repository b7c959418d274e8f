"""The control side straight into the store: the trading state the moment it changes (the
API, another writer on the file or Redis back end), the shared breakers, the heartbeat pings;
the very series ``/metrics`` shows, readable by PromQL at once."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable
from pathlib import Path

import httpx
import pytest
import redis as redis_py
from prometheus_client import CollectorRegistry, generate_latest
from pydantic import SecretStr

from guard.state._fixtures import (  # noqa: F401
    SHARED_REDIS_URL,
    private_redis,
    shared_redis_prefix,
)
from support.eventually import eventually
from support.http import bearer, login
from support.redis_server import RedisServer
from support.warden import serve_runtime
from tradewarden.auth import PasswordHasher, Role
from tradewarden.clock import Clock, ManualClock, SystemClock
from tradewarden.config import ControlConfig, Settings, load_config_file
from tradewarden.control import BreakerView, Control, open_control, trading_state_file
from tradewarden.guard.breaker import BreakerMetrics, CircuitBreaker, RedisBreakerSync
from tradewarden.guard.state import RedisBackend, SQLiteBackend, TradingState
from tradewarden.guard.trading import KillSwitch
from tradewarden.probes import Beat, HeartbeatBoard
from tradewarden.promql import Engine, Vector
from tradewarden.runtime import SYSTEM, Runtime
from tradewarden.series import LabelMatcher, Labels, MatchOp, SeriesStore, is_stale
from tradewarden.series._events import METRIC_NAMES, ControlSeries, EventModel
from tradewarden.series._exposition import parse_exposition

from .test_events_rules import SUGGESTED_RULES

_EVERYTHING = [LabelMatcher("__name__", MatchOp.NOT_EQUAL, "")]


def _current(store: SeriesStore) -> dict[Labels, float]:
    """The newest value of every live series this module writes."""
    return {
        s.labels: s.values[-1]
        for s in store.select(_EVERYTHING, 0, 2**62)
        if s.labels.metric_name in METRIC_NAMES and not is_stale(s.values[-1])
    }


def _exposed(text: str) -> dict[Labels, float]:
    parsed = parse_exposition(text)
    return {labels: v for labels, v, _ in parsed.samples if labels.metric_name in METRIC_NAMES}


def _registry_text(registry: CollectorRegistry) -> str:
    return generate_latest(registry).decode()


def _state(store: SeriesStore) -> str | None:
    on = [
        labels.get("state")
        for labels, v in _current(store).items()
        if labels.metric_name == "tradewarden_trading_state" and v == 1
    ]
    return on[0] if len(on) == 1 else None


def _value(store: SeriesStore, metric: str, /, **labels: str) -> float | None:
    return _current(store).get(Labels.of(labels, __name__=metric))


def _query(store: SeriesStore, query: str, clock: Clock) -> dict[Labels, float]:
    result = Engine(store).instant(query, int(clock.now() * 1000)).value
    assert isinstance(result, Vector)
    return {
        Labels.from_pairs((k, v) for k, v in sample.labels if k != "__name__"): sample.v
        for sample in result
    }


@pytest.fixture
def control_settings(tmp_path: Path) -> Settings:
    """Settings for the control services alone (they open no database)."""
    return Settings(database_url=f"sqlite:///{tmp_path / 'unused.db'}", data_dir=tmp_path / "data")


@pytest.fixture
async def file_control(control_settings: Settings) -> AsyncIterator[Control]:
    control = open_control(
        control_settings, ControlConfig(trading_state_backend="file"), SystemClock()
    )
    yield control
    control.close()


async def test_a_halt_is_in_the_store_at_once_and_another_writers_change_soon(
    file_control: Control, control_settings: Settings
) -> None:
    clock = SystemClock()
    registry, store = CollectorRegistry(), SeriesStore()
    await file_control.watch(registry)  # as the service does: follow the file
    series = ControlSeries(store, clock, registry=registry, interval_s=60)
    await series.start(file_control)
    try:
        await eventually(lambda: _state(store) == "ACTIVE")
        await file_control.trading.halt("ops", "drill", "api key sk-hunter2 leaked")
        # No wait: written before the action returned.
        assert _state(store) == "HALTED"
        halted = _query(store, 'tradewarden_trading_state{state="HALTED"} == 1', clock)
        assert halted == {Labels.of(state="HALTED"): 1.0}
        assert _current(store) == _exposed(_registry_text(registry))
        # Who, why and the message stay in the back end and the audit log.
        assert not {"ops", "drill", "sk-hunter2"} & {v for ls in _current(store) for _, v in ls}
        assert "hunter2" not in _registry_text(registry)

        # A bot resumes through the same file: the warden's watch brings it in.
        bot_backend = SQLiteBackend(trading_state_file(control_settings, ControlConfig()))
        bot = KillSwitch(bot_backend, watch=False)
        try:
            bot.resume("bot-1", "all clear")
        finally:
            bot_backend.close()
        await eventually(lambda: _state(store) == "ACTIVE")
        changes = _query(store, "tradewarden_trading_state_changes_total", clock)
        assert changes == {
            Labels.of(action="halt"): 1.0,
            Labels.of(action="reduce"): 0.0,
            Labels.of(action="resume"): 1.0,
        }
        assert _current(store) == _exposed(_registry_text(registry))
    finally:
        await series.stop()


@pytest.fixture
def redis_prefix(shared_redis_prefix: str) -> str:  # noqa: F811
    return shared_redis_prefix


@pytest.fixture
async def redis_control(control_settings: Settings, redis_prefix: str) -> AsyncIterator[Control]:
    config = ControlConfig(
        trading_state_backend="redis",
        trading_state_prefix=f"{redis_prefix}:trading",
        breaker_prefix=f"{redis_prefix}:cb:",
        breaker_channel=f"{redis_prefix}:cb:events",
    )
    with_redis = control_settings.model_copy(update={"redis_url": SecretStr(SHARED_REDIS_URL)})
    control = open_control(with_redis, config, SystemClock())
    yield control
    control.close()


@pytest.mark.redis
async def test_redis_trading_state_and_shared_breakers(
    redis_control: Control, redis_prefix: str
) -> None:
    clock = SystemClock()
    registry, store = CollectorRegistry(), SeriesStore()
    await redis_control.watch(registry)
    series = ControlSeries(store, clock, registry=registry, interval_s=0.05, max_breakers=2)
    await series.start(redis_control)
    bot_backend = RedisBackend(SHARED_REDIS_URL, prefix=f"{redis_prefix}:trading")
    bot_sync = RedisBreakerSync(
        SHARED_REDIS_URL, prefix=f"{redis_prefix}:cb:", channel=f"{redis_prefix}:cb:events"
    )
    try:
        await eventually(lambda: _state(store) == "ACTIVE")
        # Another process reduces through Redis: heard on the warden's subscription.
        bot = KillSwitch(bot_backend, watch=False)
        bot.reduce("bot-1", "drawdown")
        await eventually(lambda: _state(store) == "REDUCING")

        # A bot's breaker opens; the warden sees the shared hash.
        breaker = CircuitBreaker("jupiter")
        bot_sync.start()
        bot_sync.attach(breaker)
        breaker.force_open()
        await eventually(lambda: _value(store, "circuit_breaker_state", name="jupiter") == 1.0)
        assert _query(store, "circuit_breaker_state == 1", clock) == {
            Labels.of(name="jupiter"): 1.0
        }
        opened = "tradewarden_circuit_breaker_openings_total"
        assert _value(store, opened, name="jupiter") == 1.0

        # The operator closes it through the warden: in the store at once.
        await redis_control.breakers.act("jupiter", "close")
        assert _value(store, "circuit_breaker_state", name="jupiter") == 0.0

        # Past the cap of two, and a name that is no safe label value: counted, not shown.
        for name in ("a-first", "b-second", "bad name!"):
            await redis_control.breakers.act(name, "open")
        await eventually(lambda: _value(store, "tradewarden_circuit_breakers_untracked") == 2.0)
        names = {labels.get("name") for labels in _current(store) if labels.get("name")}
        assert names == {"a-first", "jupiter"}
        assert _current(store) == _exposed(_registry_text(registry))

        # A deleted hash: its series go stale and its slot is free again.
        bot_sync.detach(breaker)
        client = redis_py.Redis.from_url(SHARED_REDIS_URL)
        try:
            client.delete(f"{redis_prefix}:cb:jupiter")
        finally:
            client.close()
        await eventually(lambda: _value(store, "circuit_breaker_state", name="b-second") == 1.0)
        assert _value(store, "circuit_breaker_state", name="jupiter") is None
        assert _value(store, "tradewarden_circuit_breakers_untracked") == 1.0
        assert _current(store) == _exposed(_registry_text(registry))
    finally:
        await series.stop()
        bot_sync.close()
        bot_backend.close()


@pytest.mark.redis
async def test_a_bots_breaker_change_is_heard_at_once(
    redis_control: Control, redis_prefix: str
) -> None:
    """With a refresh once a minute, only the channel's announcement can bring it in."""
    store = SeriesStore()
    series = ControlSeries(store, SystemClock(), interval_s=60)
    bot_sync = RedisBreakerSync(
        SHARED_REDIS_URL, prefix=f"{redis_prefix}:cb:", channel=f"{redis_prefix}:cb:events"
    )
    await series.start(redis_control)
    client = redis_py.Redis.from_url(SHARED_REDIS_URL)
    channel = f"{redis_prefix}:cb:events"
    try:
        await eventually(lambda: _value(store, "tradewarden_circuit_breakers_untracked") == 0.0)
        # The warden is subscribed (the bot's sync subscribes only once started).
        await eventually(lambda: dict(client.pubsub_numsub(channel)).get(channel.encode()) == 1)
        breaker = CircuitBreaker("rpc_pool")
        bot_sync.start()
        bot_sync.attach(breaker)
        breaker.force_open()
        await eventually(lambda: _value(store, "circuit_breaker_state", name="rpc_pool") == 1.0)
        opened = "tradewarden_circuit_breaker_openings_total"
        assert _value(store, opened, name="rpc_pool") == 1.0
        breaker.reset()
        await eventually(lambda: _value(store, "circuit_breaker_state", name="rpc_pool") == 0.0)
    finally:
        await series.stop()
        bot_sync.close()
        client.close()


@pytest.mark.redis
async def test_a_lost_redis_is_said_and_the_states_read_stay(
    control_settings: Settings,
    private_redis: RedisServer,  # noqa: F811
) -> None:
    with_redis = control_settings.model_copy(update={"redis_url": SecretStr(private_redis.url())})
    control = open_control(with_redis, ControlConfig(trading_state_backend="memory"), SystemClock())
    store = SeriesStore()
    series = ControlSeries(store, SystemClock(), interval_s=0.05)
    readable = "tradewarden_circuit_breakers_readable"
    try:
        await control.breakers.act("rpc_pool", "open")
        await series.start(control)
        await eventually(lambda: _value(store, readable) == 1.0)
        private_redis.stop()
        await eventually(lambda: _value(store, readable) == 0.0)
        assert _value(store, "circuit_breaker_state", name="rpc_pool") == 1.0
        private_redis.start()
        await eventually(lambda: _value(store, readable) == 1.0, timeout_s=15)
    finally:
        await series.stop()
        control.close()


async def test_heartbeat_pings_and_removed_heartbeats() -> None:
    clock = ManualClock(start=1_800_000_000.0)
    registry, store = CollectorRegistry(), SeriesStore()
    board = HeartbeatBoard(None, clock)
    names = ["nightly", "hourly"]
    series = ControlSeries(store, clock, registry=registry, interval_s=60)
    await series.start(None, board, lambda: names)
    pings = "tradewarden_heartbeat_pings_total"
    last = "tradewarden_heartbeat_last_ping_timestamp_seconds"
    try:
        await eventually(lambda: _value(store, pings, monitor="hourly", kind="start") == 0.0)
        assert _value(store, last, monitor="nightly") is None  # never pinged

        def hourly_samples() -> int:
            matchers = [LabelMatcher("monitor", MatchOp.EQUAL, "hourly"), *_EVERYTHING]
            return sum(len(s.timestamps) for s in store.select(matchers, 0, 2**62))

        before = hourly_samples()
        clock.advance(10)
        await board.ping("nightly", "start")
        clock.advance(30)
        await board.ping("nightly", "success")
        assert _value(store, pings, monitor="nightly", kind="start") == 1.0
        assert _value(store, pings, monitor="nightly", kind="success") == 1.0
        assert _value(store, last, monitor="nightly") == clock.now()
        assert hourly_samples() == before  # a ping writes its own heartbeat's series only
        silent = _query(store, f"time() - {last}", clock)
        assert silent == {Labels.of(monitor="nightly"): 0.0}
        assert _current(store) == _exposed(_registry_text(registry))

        names.remove("hourly")
        clock.advance(5)
        await series.refresh()
        assert not any(labels.get("monitor") == "hourly" for labels in _current(store))
        assert _current(store) == _exposed(_registry_text(registry))
    finally:
        await series.stop()


def test_the_model_ignores_late_news_and_caps_heartbeats() -> None:
    model = EventModel(max_breakers=1, max_heartbeats=1)
    assert model.trading_seen(TradingState.ACTIVE, 3)
    assert model.trading_seen(TradingState.HALTED, 4)
    assert not model.trading_seen(TradingState.ACTIVE, 3)  # older than what is known
    assert model.heartbeat_pinged("one", "success", Beat(last_ping_at=1.0, pings_total=1))
    assert not model.heartbeat_pinged("two", "success", Beat(last_ping_at=2.0, pings_total=1))
    view = BreakerView("rpc_pool", "HALF_OPEN", 0, None, None, None, 1)
    assert model.breakers_listed([view, BreakerView("other", "OPEN", 0, None, None, None, 1)])
    samples = {
        (s.name, tuple(sorted(s.labels.items())), s.value)
        for m in model.families()
        for s in m.samples
    }
    # Admitted in name order: "other" takes the one slot.
    assert ("circuit_breaker_state", (("name", "other"),), 1.0) in samples
    assert not any(("name", "rpc_pool") in s[1] for s in samples)
    assert ("tradewarden_circuit_breakers_untracked", (), 1.0) in samples
    assert ("tradewarden_trading_state_changes_total", (("action", "halt"),), 1.0) in samples
    assert ("tradewarden_trading_state_changes_total", (("action", "resume"),), 0.0) in samples
    assert ("tradewarden_trading_state", (("state", "HALTED"),), 1.0) in samples
    # The second heartbeat is past the cap of one.
    assert {
        s[1] for s in samples if s[0] == "tradewarden_heartbeat_last_ping_timestamp_seconds"
    } == {(("monitor", "one"),)}


def test_the_names_are_claimed_on_the_registry() -> None:
    registry = CollectorRegistry()
    ControlSeries(SeriesStore(), SystemClock(), registry=registry)
    with pytest.raises(ValueError, match="circuit_breaker_state"):
        BreakerMetrics(registry)  # a second exporter of the guard's breakers on the warden


async def _has(names: Awaitable[list[str]], name: str) -> bool:
    return name in await names


def _service_config(tmp_path: Path) -> Path:
    path = tmp_path / "tw.yaml"
    (tmp_path / "control.yml").write_text(SUGGESTED_RULES, encoding="utf-8")
    path.write_text(
        "metrics:\n  self_scrape_interval_s: 0.05\n"
        "monitors:\n  - name: nightly\n    kind: heartbeat\n    period_s: 3600\n"
        # evaluated once an hour: only the arriving samples can wake the rules in time
        "rules:\n  files: [control.yml]\n  packs: []\n  evaluation_interval: 3600\n",
        encoding="utf-8",
    )
    return path


async def test_the_api_kill_switch_through_the_app(
    settings: Settings, fast_hasher: PasswordHasher, tmp_path: Path
) -> None:
    path = _service_config(tmp_path)
    runtime = Runtime(
        settings, load_config_file(path), config_path=path, clock=SystemClock(), hasher=fast_hasher
    )
    await runtime.start(bootstrap_admin=False, run_probes=True)
    await runtime.auth.create_user("admin", "admin-password-1", Role.ADMIN, actor=SYSTEM)
    store = runtime.series
    async with (
        serve_runtime(runtime, access_log=False) as url,
        httpx.AsyncClient(base_url=url) as http,
    ):
        token = (await login(http, "admin", "admin-password-1"))["access_token"]
        await eventually(lambda: _state(store) == "ACTIVE", timeout_s=15)
        response = await http.post(
            "/api/kill-switch", json={"reason": "drill"}, headers=bearer(token)
        )
        assert response.status_code == 200, response.text
        # In the store before the answer: PromQL sees it right away.
        assert _state(store) == "HALTED"
        assert _query(store, 'tradewarden_trading_state{state="HALTED"}', runtime.clock) == {
            Labels.of(state="HALTED"): 1.0
        }

        async def firing() -> list[str]:
            alerts = (await http.get("/api/v1/alerts", headers=bearer(token))).json()
            return [
                a["labels"]["alertname"] for a in alerts["data"]["alerts"] if a["state"] == "firing"
            ]

        # The suggested rule fires, woken by the sample (the group's interval is an hour).
        await eventually(lambda: _has(firing(), "TradingHalted"))

        answer = await http.get(
            "/api/v1/query",
            params={"query": 'tradewarden_trading_state_changes_total{action="halt"}'},
            headers=bearer(token),
        )
        assert answer.status_code == 200, answer.text
        assert [r["value"][1] for r in answer.json()["data"]["result"]] == ["1"]

        # Resume, then reduce: each in the store by the time the API answers.
        for verb, body, expected in (
            ("resume", {"reason": "drill over"}, "ACTIVE"),
            ("reduce", {"reason": "drawdown"}, "REDUCING"),
        ):
            response = await http.post(f"/api/kill-switch/{verb}", json=body, headers=bearer(token))
            assert response.status_code == 200, response.text
            assert _state(store) == expected
        changes = _query(store, "tradewarden_trading_state_changes_total", runtime.clock)
        assert changes == {Labels.of(action=a): 1.0 for a in ("halt", "reduce", "resume")}

        # A heartbeat of the config file: its counters from 0, then a ping through the API.
        pings = "tradewarden_heartbeat_pings_total"
        await eventually(lambda: _value(store, pings, monitor="nightly", kind="success") == 0)
        response = await http.post("/v1/heartbeats/nightly", headers=bearer(token))
        assert response.status_code == 200, response.text
        assert _value(store, pings, monitor="nightly", kind="success") == 1.0
        last = _value(store, "tradewarden_heartbeat_last_ping_timestamp_seconds", monitor="nightly")
        assert runtime.heartbeats is not None
        beat = runtime.heartbeats.get("nightly")
        assert beat is not None
        assert last == beat.last_ping_at

        exposed = (await http.get("/metrics", headers=bearer(token))).text
        assert _current(store) == _exposed(exposed)
        # Not a second time through the self-scrape (which did run).
        await eventually(
            lambda: any(
                labels.metric_name == "tradewarden_build_info"
                for labels in (s.labels for s in store.select(_EVERYTHING, 0, 2**62))
            ),
            timeout_s=15,
        )
        assert all(labels.get("job") == "" for labels in _current(store))
