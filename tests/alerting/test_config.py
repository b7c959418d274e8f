"""The alerting sections of the config file: errors name the field; config check refuses."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tradewarden.cli import app
from tradewarden.config._file import parse_config_text
from tradewarden.errors import ConfigError

CHANNELS = """
channels:
  - name: chat
    type: apprise
    url_env: CHAT_URL
  - name: sms
    type: apprise
    url_env: SMS_URL
"""

GOOD = (
    CHANNELS
    + """
receivers:
  - name: oncall
    channels: [sms, chat]
time_intervals:
  - name: nights
    time_intervals:
      - times: [{start_time: "22:00", end_time: "24:00"}]
severities:
  P0: {response_time: 15m, channels: [sms, chat]}
route:
  receiver: chat
  group_by: [alertname]
  routes:
    - matchers: ['severity="critical"']
      receiver: oncall
      continue: true
    - match_re: {team: "ops|dev"}
      mute_time_intervals: [nights]
inhibit_rules:
  - source_matchers: ['alertname="ProvidersDown"']
    target_matchers: ['alertname="ProviderDown"']
    equal: [cluster]
"""
)


def test_a_good_config_loads() -> None:
    config = parse_config_text(GOOD)
    assert config.route is not None
    assert config.route.routes[0].continue_ is True
    assert config.receivers[0].channels == ("sms", "chat")
    assert config.inhibit_rules[0].equal == ("cluster",)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("route:\n  receiver: nobody\n", "c.yml:1: route: receiver: undefined receiver 'nobody'"),
        (
            "route:\n  routes:\n    - receiver: nobody\n",
            "route: routes.0.receiver: undefined receiver 'nobody'",
        ),
        ("route:\n  routes:\n    - matchers: ['a=~\"(\"']\n", "route.routes.0.matchers"),
        ("route:\n  routes:\n    - matchers: ['=x']\n", "bad matcher format: =x"),
        ("route:\n  routes:\n    - match_re: {a: '('}\n", "route.routes.0.match_re"),
        ("route:\n  group_wait: soon\n", "route.group_wait: not a valid duration"),
        ("route:\n  group_interval: 0s\n", "route.group_interval: must be greater than 0"),
        ("route:\n  group_by: ['...', a]\n", "route.group_by: cannot have wildcard"),
        ("route:\n  matchers: ['a=b']\n", "route: matchers: the root route must not"),
        (
            "route:\n  routes:\n    - mute_time_intervals: [lunch]\n",
            "routes.0.mute_time_intervals.0: undefined time interval 'lunch'",
        ),
        ("receivers:\n  - name: x\n    channels: [pager]\n", "receivers: 0.channels.0: unknown"),
        (
            "severities:\n  P1: {response_time: 1h, channels: [pager]}\n",
            "severities: P1.channels.0: unknown channel 'pager'",
        ),
        (
            "time_intervals:\n  - name: n\n    time_intervals: [{weekdays: [someday]}]\n",
            "time_intervals.0.time_intervals.0.weekdays",
        ),
        ("inhibit_rules:\n  - source_matchers: ['a=~\"[\"']\n", "inhibit_rules.0.source_matchers"),
        ("route:\n  receivr: x\n", "route.receivr: unknown field"),
    ],
)
def test_errors_name_the_field(text: str, needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config_text(text, source="c.yml")
    assert needle in str(info.value)


def test_a_receiver_may_be_a_channel() -> None:
    config = parse_config_text(CHANNELS + "route:\n  receiver: sms\n")
    assert config.route is not None
    assert config.route.receiver == "sms"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("route:\n  receiver: nobody\n", ":1: route: receiver: undefined receiver 'nobody'"),
        ("route:\n  routes:\n    - matchers: ['=x']\n", "route.routes.0.matchers"),
        (
            (
                "time_intervals:\n  - name: n\n    time_intervals: [{times: [{start_time:"
                " '25:00', end_time: '26:00'}]}]\n"
            ),
            "time_intervals.0.time_intervals.0.times.0.start_time",
        ),
    ],
)
def test_config_check_refuses(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "tw.yaml"
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(app, ["config", "check", "--config", str(path)])
    assert result.exit_code == 2
    assert expected in result.stderr
