"""The alert rules suggested for the control series (for the rule packs): promtool accepts
them and fires them on the series as written, and the warden's engine agrees on the store."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from pydantic import SecretStr

from guard.state._fixtures import SHARED_REDIS_URL, shared_redis_prefix  # noqa: F401
from support.eventually import eventually
from tradewarden.clock import SystemClock
from tradewarden.config import ControlConfig, Settings
from tradewarden.control import BreakerAction, open_control
from tradewarden.promql import Engine, Vector
from tradewarden.series import SeriesStore
from tradewarden.series._events import ControlSeries

PROMTOOL = "/usr/bin/promtool"

SUGGESTED_RULES = """\
groups:
  - name: tradewarden-control
    rules:
      - alert: TradingHalted
        expr: tradewarden_trading_state{state="HALTED"} == 1
        labels:
          severity: critical
        annotations:
          summary: Trading is halted on the warden's trading-state back end
          description: Every bot on this back end refuses new orders until a resume.
      - alert: TradingReducing
        expr: tradewarden_trading_state{state="REDUCING"} == 1
        for: 15m
        labels:
          severity: warning
        annotations:
          summary: Trading has allowed only exposure-reducing orders for 15 minutes
      - alert: CircuitBreakerOpen
        expr: max by (name) (circuit_breaker_state) == 1
        for: 1m
        labels:
          severity: critical
        annotations:
          summary: "Circuit breaker {{ $labels.name }} is open"
      - alert: CircuitBreakerFlapping
        expr: increase(tradewarden_circuit_breaker_openings_total[15m]) >= 3
        labels:
          severity: warning
        annotations:
          summary: "Circuit breaker {{ $labels.name }} opened {{ $value }} times in 15m"
      - alert: CircuitBreakersUnreadable
        expr: tradewarden_circuit_breakers_readable == 0
        for: 1m
        labels:
          severity: warning
        annotations:
          summary: The warden cannot list the shared circuit breakers in Redis
      - alert: CircuitBreakersUntracked
        expr: tradewarden_circuit_breakers_untracked > 0
        for: 10m
        labels:
          severity: info
        annotations:
          summary: "{{ $value }} circuit breakers have no series (cap or unsafe name)"
"""


def _promtool() -> str:
    if not shutil.which(PROMTOOL):
        if os.environ.get("CI"):
            pytest.fail(f"{PROMTOOL} is missing")
        pytest.skip(f"{PROMTOOL} is missing")
    return PROMTOOL


def _alert(labels: dict[str, str], **annotations: str) -> dict[str, dict[str, str]]:
    return {"exp_labels": labels, "exp_annotations": annotations}


def test_promtool_checks_and_fires_the_suggested_rules(tmp_path: Path) -> None:
    promtool = _promtool()
    (tmp_path / "rules.yml").write_text(SUGGESTED_RULES, encoding="utf-8")
    check = subprocess.run(
        [promtool, "check", "rules", "rules.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    unit = {
        "rule_files": ["rules.yml"],
        "evaluation_interval": "5s",
        "tests": [
            {
                "interval": "5s",
                "input_series": [
                    {"series": 'tradewarden_trading_state{state="HALTED"}', "values": "0 1x30"},
                    {"series": 'tradewarden_trading_state{state="ACTIVE"}', "values": "1 0x30"},
                    # the warden's own series and a bot's, scraped: one alert by name
                    {"series": 'circuit_breaker_state{name="rpc_pool"}', "values": "0 1x30"},
                    {
                        "series": 'circuit_breaker_state{name="rpc_pool",job="bot"}',
                        "values": "0 1x30",
                    },
                    {
                        "series": 'tradewarden_circuit_breaker_openings_total{name="rpc_pool"}',
                        "values": "0 1 2 3x30",
                    },
                    {"series": "tradewarden_circuit_breakers_readable", "values": "1x30"},
                    {"series": "tradewarden_circuit_breakers_untracked", "values": "0x30"},
                ],
                "alert_rule_test": [
                    {
                        "eval_time": "5s",
                        "alertname": "TradingHalted",
                        "exp_alerts": [
                            _alert(
                                {"severity": "critical", "state": "HALTED"},
                                summary="Trading is halted on the warden's trading-state back end",
                                description="Every bot on this back end refuses new orders "
                                "until a resume.",
                            )
                        ],
                    },
                    {
                        "eval_time": "2m",
                        "alertname": "CircuitBreakerOpen",
                        "exp_alerts": [
                            _alert(
                                {"severity": "critical", "name": "rpc_pool"},
                                summary="Circuit breaker rpc_pool is open",
                            )
                        ],
                    },
                    {
                        "eval_time": "2m",
                        "alertname": "CircuitBreakerFlapping",
                        "exp_alerts": [
                            _alert(
                                {"severity": "warning", "name": "rpc_pool"},
                                summary="Circuit breaker rpc_pool opened 3 times in 15m",
                            )
                        ],
                    },
                    {"eval_time": "2m", "alertname": "CircuitBreakersUnreadable", "exp_alerts": []},
                    {"eval_time": "2m", "alertname": "TradingReducing", "exp_alerts": []},
                ],
            }
        ],
    }
    (tmp_path / "unit.yml").write_text(json.dumps(unit), encoding="utf-8")  # JSON is YAML
    run = subprocess.run(
        [promtool, "test", "rules", "unit.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr


@pytest.fixture
def control_settings(tmp_path: Path) -> Settings:
    """Settings for the control services alone (they open no database)."""
    return Settings(database_url=f"sqlite:///{tmp_path / 'unused.db'}", data_dir=tmp_path / "data")


@pytest.mark.redis
async def test_the_warden_engine_sees_the_same_conditions_on_the_written_series(
    control_settings: Settings,
    shared_redis_prefix: str,  # noqa: F811
) -> None:
    config = ControlConfig(
        trading_state_backend="memory",
        breaker_prefix=f"{shared_redis_prefix}:cb:",
        breaker_channel=f"{shared_redis_prefix}:cb:events",
    )
    with_redis = control_settings.model_copy(update={"redis_url": SecretStr(SHARED_REDIS_URL)})
    control = open_control(with_redis, config, SystemClock())
    store, clock = SeriesStore(), SystemClock()
    series = ControlSeries(store, clock, interval_s=60)
    engine = Engine(store)

    def fired(expr: str) -> list[dict[str, str]]:
        # A second later: changes within one millisecond are written a millisecond apart.
        value = engine.instant(expr, int(clock.now() * 1000) + 1000).value
        assert isinstance(value, Vector)
        return [dict(sample.labels) for sample in value]

    await series.start(control)
    try:
        await eventually(lambda: bool(fired("tradewarden_circuit_breakers_readable == 1")))
        await control.trading.halt("ops", "drill")
        actions: tuple[BreakerAction, ...] = ("open", "close", "open", "close", "open")
        for action in actions:
            await control.breakers.act("rpc_pool", action)
        assert fired('tradewarden_trading_state{state="HALTED"} == 1') == [
            {"__name__": "tradewarden_trading_state", "state": "HALTED"}
        ]
        assert fired("max by (name) (circuit_breaker_state) == 1") == [{"name": "rpc_pool"}]
        # The first opening counts too: the counter's series starts from 0.
        assert fired("increase(tradewarden_circuit_breaker_openings_total[15m]) >= 3") == [
            {"name": "rpc_pool"}
        ]
        assert fired("tradewarden_circuit_breakers_readable == 0") == []
    finally:
        await series.stop()
        control.close()
