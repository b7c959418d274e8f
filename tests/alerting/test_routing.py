"""The routing tree against the real Alertmanager (``amtool config routes test``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from alerting._amtool import amtool_routes
from tradewarden.alerting import Alert, ReceiverConfig, RouteConfig, Router, SeveritiesConfig
from tradewarden.notify import Severity
from tradewarden.series import Labels

TREE: dict[str, Any] = {
    "receiver": "default",
    "group_by": ["alertname"],
    "routes": [
        {"matchers": ['severity="critical"'], "receiver": "pager", "continue": True},
        {
            "match": {"team": "ops"},
            "receiver": "ops",
            "group_by": ["alertname", "instance"],
            "routes": [
                {"match_re": {"service": "db|cache"}, "receiver": "ops-db"},
                {"matchers": ["service!~db.*", "env=prod"], "receiver": "ops-prod"},
            ],
        },
        {"matchers": ['{team=~"dev.*", env!="prod"}'], "receiver": "dev"},
        {"matchers": ['job="a,b"'], "receiver": "quoted", "continue": True},
        {"matchers": ['job=~"a.*"'], "receiver": "dev"},
        {"matchers": ['name="say \\"hi\\""'], "receiver": "quoted"},
        {
            "matchers": ['zone=""'],
            "receiver": "nozone",
            "routes": [{"matchers": ["alertname=Boom"], "group_by": ["..."], "receiver": "pager"}],
        },
    ],
}
RECEIVERS = ("default", "pager", "ops", "ops-db", "ops-prod", "dev", "quoted", "nozone")

ALERTS: list[dict[str, str]] = [
    {"alertname": "A", "zone": "z"},
    {"alertname": "A", "severity": "critical", "zone": "z"},
    {"alertname": "A", "severity": "critical", "team": "ops", "service": "db", "zone": "z"},
    {"alertname": "A", "team": "ops", "service": "cache", "zone": "z"},
    {"alertname": "A", "team": "ops", "service": "web", "env": "prod", "zone": "z"},
    {"alertname": "A", "team": "ops", "service": "dbx", "env": "prod", "zone": "z"},
    {"alertname": "A", "team": "ops", "zone": "z"},
    {"alertname": "A", "team": "devops", "zone": "z"},
    {"alertname": "A", "team": "devops", "env": "prod", "zone": "z"},
    {"alertname": "A", "job": "a,b", "zone": "z"},
    {"alertname": "A", "job": "ab", "zone": "z"},
    {"alertname": "A", "job": "b", "zone": "z"},
    {"alertname": "A", "name": 'say "hi"', "zone": "z"},
    {"alertname": "A"},
    {"alertname": "Boom"},
    {"alertname": "Boom", "severity": "critical"},
    {"alertname": "Boom", "zone": "z", "team": "Ops"},
]


@pytest.fixture(scope="module")
def am_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("am") / "alertmanager.yml"
    document = {"route": TREE, "receivers": [{"name": r} for r in RECEIVERS]}
    path.write_text(json.dumps(document), encoding="utf-8")  # JSON is YAML
    return path


def _router() -> Router:
    receivers = tuple(ReceiverConfig(name=r, channels=(f"{r}-chat",)) for r in RECEIVERS)
    return Router.from_config(RouteConfig.model_validate(TREE), receivers)


@pytest.mark.parametrize("labels", ALERTS, ids=lambda d: ",".join(f"{k}={v}" for k, v in d.items()))
def test_receivers_are_alertmanagers(am_config: Path, labels: dict[str, str]) -> None:
    matches = _router().route(Alert(Labels.of(labels)))
    assert [m.receiver for m in matches] == amtool_routes(am_config, labels)
    assert all(m.channels == (f"{m.receiver}-chat",) for m in matches)


def test_group_labels_inherit_and_wildcard() -> None:
    router = _router()
    (ops,) = router.route(Alert(Labels.of(alertname="A", team="ops", instance="i", x="y")))
    assert ops.group_labels == Labels.of(alertname="A", instance="i")
    (boom,) = router.route(Alert(Labels.of(alertname="Boom", x="y")))
    assert boom.group_labels == Labels.of(alertname="Boom", x="y")
    (default,) = router.route(Alert(Labels.of(alertname="A", zone="z", x="y")))
    assert default.group_labels == Labels.of(alertname="A")
    assert ops.group_key != default.group_key


def test_timers_inherit_and_p0_waits_for_nothing() -> None:
    config = RouteConfig.model_validate(
        {
            "group_interval": "1m",
            "routes": [
                {"matchers": ["team=ops"], "repeat_interval": "1h"},
                {"matchers": ["team=db"], "group_wait": "10s"},
            ],
        }
    )
    router = Router.from_config(config)
    (ops,) = router.route(Alert(Labels.of(team="ops")))
    assert (ops.group_wait_ms, ops.route.group_interval_ms, ops.route.repeat_interval_ms) == (
        30_000,
        60_000,
        3_600_000,
    )
    (ops_p0,) = router.route(Alert(Labels.of(team="ops", severity="critical")))
    assert ops_p0.severity is Severity.P0
    assert ops_p0.group_wait_ms == 0
    (db_p0,) = router.route(Alert(Labels.of(team="db", severity="critical")))
    assert db_p0.group_wait_ms == 10_000  # written on the route: kept


def test_no_receiver_means_the_severitys_channels() -> None:
    severities = SeveritiesConfig.model_validate(
        {"P0": {"response_time": "15m", "channels": ["sms", "chat"]}}
    )
    router = Router.from_config(None, (), severities)
    (match,) = router.route(Alert(Labels.of(alertname="X", severity="critical")))
    assert match.receiver is None
    assert match.channels == ("sms", "chat")
    (low,) = router.route(Alert(Labels.of(alertname="X", severity="info")))
    assert low.channels == ()
