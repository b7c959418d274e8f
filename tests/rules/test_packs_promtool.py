"""The corrected pack rules measure what their summaries say: ``promtool test rules`` on
Prometheus's own evaluator, with the seed's verbatim rule beside each where it differs."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tradewarden.rules.packs import pack_files, seed_files

PROMTOOL = "/usr/bin/promtool"


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.fixture(scope="module")
def promtool() -> str:
    """The real promtool (Debian ``prometheus``): skipped locally without it, failed in CI."""
    if shutil.which(PROMTOOL) is None:
        if _in_ci():
            pytest.fail(f"{PROMTOOL} is missing (install the Debian package prometheus)")
        pytest.skip(f"{PROMTOOL} is not installed")
    return PROMTOOL


def _pack(name: str) -> Path:
    return next(path for path in pack_files() if path.stem == name)


def _seed(name: str) -> Path:
    return next(path for path in seed_files() if path.stem == name)


def _run_unit_test(
    promtool: str, tmp_path: Path, rule_file: Path, tests: list[dict[str, Any]]
) -> None:
    spec = {"rule_files": [str(rule_file)], "evaluation_interval": "30s", "tests": tests}
    test_file = tmp_path / "unit.yml"
    test_file.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    done = subprocess.run(
        [promtool, "test", "rules", str(test_file)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def _case(
    series: dict[str, str], alertname: str, eval_time: str, alerts: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "interval": "30s",
        "input_series": [{"series": s, "values": v} for s, v in series.items()],
        "alert_rule_test": [{"eval_time": eval_time, "alertname": alertname, "exp_alerts": alerts}],
    }


BOT = 'job="bot",instance="bot:9100"'


def test_high_error_rate_is_a_share_of_requests(promtool: str, tmp_path: Path) -> None:
    busy_few_errors = {  # 100 req/s, 1 of them 5xx: 1 %, yet 1 error/s > seed's 0.05
        f'http_requests_total{{{BOT},status="200",route="/a",method="GET"}}': "0+2970x40",
        f'http_requests_total{{{BOT},status="500",route="/a",method="GET"}}': "0+30x40",
    }
    quiet_many_errors = {  # 1 req/min, half of them 5xx: 50 %, yet 0.008/s < 0.05
        f'http_requests_total{{{BOT},status="200",route="/a",method="GET"}}': "0+0.25x40",
        f'http_requests_total{{{BOT},status="503",route="/a",method="GET"}}': "0+0.25x40",
    }
    fired = {
        "exp_labels": {"job": "bot", "instance": "bot:9100", "severity": "critical"},
        "exp_annotations": {
            "summary": "High HTTP error rate on bot",
            "description": "50 % of the requests to bot:9100 (bot) answered 5xx over the "
            "last 5 minutes (threshold: 5 %).",
            "runbook_url": "docs/runbooks/api.md#higherrorrate",
            "runbook": "api-errors-latency",
        },
    }
    _run_unit_test(
        promtool,
        tmp_path,
        _pack("api"),
        [
            _case(busy_few_errors, "HighErrorRate", "15m", []),
            _case(quiet_many_errors, "HighErrorRate", "15m", [fired]),
        ],
    )
    seed_fired = {
        "exp_labels": {
            "job": "bot",
            "instance": "bot:9100",
            "status": "500",
            "route": "/a",
            "method": "GET",
            "severity": "critical",
        },
        "exp_annotations": {
            "summary": "High error rate detected",
            "description": "Error rate is 1 (threshold: 5%)",
        },
    }
    _run_unit_test(  # the seed gets both wrong
        promtool,
        tmp_path,
        _seed("seed_000"),
        [
            _case(busy_few_errors, "HighErrorRate", "15m", [seed_fired]),
            _case(quiet_many_errors, "HighErrorRate", "15m", []),
        ],
    )


def test_high_cpu_load_reads_idle_time_as_a_share(promtool: str, tmp_path: Path) -> None:
    # Two CPUs of a machine up for days, each idle 10 % of the time: 90 % busy.
    busy = {
        'node_cpu_seconds_total{instance="db:9100",cpu="0",mode="idle"}': "500000+3x40",
        'node_cpu_seconds_total{instance="db:9100",cpu="1",mode="idle"}': "400000+3x40",
    }
    # The same machine idle 90 % of the time.
    idle = {
        'node_cpu_seconds_total{instance="db:9100",cpu="0",mode="idle"}': "500000+27x40",
        'node_cpu_seconds_total{instance="db:9100",cpu="1",mode="idle"}': "400000+27x40",
    }
    fired = {
        "exp_labels": {"instance": "db:9100", "severity": "warning"},
        "exp_annotations": {
            "summary": "High CPU load on db:9100",
            "description": "The CPUs of db:9100 were idle 10 % of the last 5 minutes "
            "(threshold: 20 %).",
            "runbook_url": "docs/runbooks/system.md#highcpuload",
            "runbook": "host-resources",
        },
    }
    _run_unit_test(
        promtool,
        tmp_path,
        _pack("system"),
        [
            _case(busy, "HighCPULoad", "15m", [fired]),
            _case(idle, "HighCPULoad", "15m", []),
        ],
    )
    # The seed compares the idle counter with 20: never true after 20 s of uptime.
    _run_unit_test(promtool, tmp_path, _seed("seed_003"), [_case(busy, "HighCPULoad", "15m", [])])


def _orders(filled: str, failed: str) -> dict[str, str]:
    return {
        f'orders_total{{{BOT},status="filled"}}': filled,
        f'orders_total{{{BOT},status="failed"}}': failed,
        f'orders_total{{{BOT},status="cancelled"}}': "0+0x40",
        f"orders_failed_total{{{BOT}}}": failed,
    }


def test_order_failure_rate_matches_the_guard_metrics(promtool: str, tmp_path: Path) -> None:
    failing = _orders(filled="0+6x40", failed="0+3x40")  # a third failed
    fired = {
        "exp_labels": {"job": "bot", "instance": "bot:9100", "severity": "critical"},
        "exp_annotations": {
            "summary": "High order failure rate on bot",
            "description": "33.33 % of the orders of bot:9100 failed over the last 5 "
            "minutes (threshold: 10 %).",
            "runbook_url": "docs/runbooks/orders.md#highorderfailurerate",
            "runbook": "transaction-failures",
        },
    }
    _run_unit_test(
        promtool,
        tmp_path,
        _pack("orders"),
        [
            _case(failing, "HighOrderFailureRate", "15m", [fired]),
            _case(_orders("0+60x40", "0+1x40"), "HighOrderFailureRate", "15m", []),
        ],
    )
    # The seed's one-to-one division finds no pair of matching series: it never fires.
    _run_unit_test(
        promtool,
        tmp_path,
        _seed("seed_003"),
        [_case(failing, "HighOrderFailureRate", "15m", [])],
    )


def test_order_processing_stalled_means_no_order_at_all(promtool: str, tmp_path: Path) -> None:
    flowing = _orders(filled="0+6x40", failed="0+0x40")  # orders flow, none cancelled
    stalled = _orders(filled="0+6x10 60+0x30", failed="0+0x40")  # stops at 5 min
    fired = {
        "exp_labels": {"job": "bot", "instance": "bot:9100", "severity": "critical"},
        "exp_annotations": {
            "summary": "Order processing stalled on bot",
            "description": "bot:9100 (bot) processed no order in the last 10 minutes.",
            "runbook_url": "docs/runbooks/orders.md#orderprocessingstalled",
            "runbook": "job-not-executing",
        },
    }
    _run_unit_test(
        promtool,
        tmp_path,
        _pack("orders"),
        [
            _case(flowing, "OrderProcessingStalled", "19m", []),
            _case(stalled, "OrderProcessingStalled", "14m", []),
            _case(stalled, "OrderProcessingStalled", "16m", [fired]),
        ],
    )
    # The seed fires while orders flow, because no order was cancelled.
    _run_unit_test(
        promtool,
        tmp_path,
        _seed("seed_003"),
        [
            _case(
                flowing,
                "OrderProcessingStalled",
                "19m",
                [
                    {
                        "exp_labels": {
                            "job": "bot",
                            "instance": "bot:9100",
                            "status": status,
                            "severity": "critical",
                        },
                        "exp_annotations": {
                            "summary": "Order processing stalled",
                            "description": "No orders processed in last 10 minutes",
                        },
                    }
                    for status in ("cancelled", "failed")
                ],
            )
        ],
    )


def test_signal_alerts_count_errors_and_silence(promtool: str, tmp_path: Path) -> None:
    errors = {f"signal_processing_errors_total{{{BOT}}}": "0+1x40"}  # 10 in 5 minutes
    quiet = {
        f'signals_received_total{{{BOT},source="tv"}}': "0+1x10 10+0x60",
        f'signals_received_total{{{BOT},source="api"}}': "0+0x70",
    }
    _run_unit_test(
        promtool,
        tmp_path,
        _pack("signals"),
        [
            _case(
                errors,
                "SignalProcessingErrors",
                "15m",
                [
                    {
                        "exp_labels": {
                            "job": "bot",
                            "instance": "bot:9100",
                            "severity": "warning",
                        },
                        "exp_annotations": {
                            "summary": "Signal processing errors on bot",
                            "description": "10 signals could not be processed by bot:9100 "
                            "in the last 5 minutes (threshold: 5).",
                            "runbook_url": "docs/runbooks/signals.md#signalprocessingerrors",
                            "runbook": "signal-processing",
                        },
                    }
                ],
            ),
            _case(quiet, "NoSignalsReceived", "30m", []),
            _case(
                quiet,
                "NoSignalsReceived",
                "36m",
                [
                    {
                        "exp_labels": {
                            "job": "bot",
                            "instance": "bot:9100",
                            "severity": "warning",
                        },
                        "exp_annotations": {
                            "summary": "No signals received by bot",
                            "description": "bot:9100 (bot) received no trading signal in "
                            "the last 30 minutes.",
                            "runbook_url": "docs/runbooks/signals.md#nosignalsreceived",
                            "runbook": "signal-processing",
                        },
                    }
                ],
            ),
        ],
    )
    # Five errors a second: the seed stays silent at ten in five minutes.
    _run_unit_test(
        promtool, tmp_path, _seed("seed_003"), [_case(errors, "SignalProcessingErrors", "15m", [])]
    )


def test_redis_connection_issues_fire_when_redis_does_not_answer(
    promtool: str, tmp_path: Path
) -> None:
    # The redis monitor's samples while Redis is down: redis_up 0, no client count.
    down = {
        'redis_up{monitor="cache"}': "1x5 0x30",
        'redis_connected_clients{monitor="cache"}': "3x5",
    }
    fired = {
        "exp_labels": {"monitor": "cache", "severity": "critical"},
        "exp_annotations": {
            "summary": "Redis is unreachable",
            "description": "The Redis server of monitor cache has not answered PING for "
            "more than 1 minute.",
            "runbook_url": "docs/runbooks/redis.md#redisconnectionissues",
            "runbook": "redis-connection-issues",
        },
    }
    _run_unit_test(
        promtool, tmp_path, _pack("redis"), [_case(down, "RedisConnectionIssues", "10m", [fired])]
    )
    _run_unit_test(
        promtool, tmp_path, _seed("seed_001"), [_case(down, "RedisConnectionIssues", "10m", [])]
    )
