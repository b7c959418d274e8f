"""The people:, schedules: and escalation_policies: sections, and what config check names."""

from __future__ import annotations

import pytest

from tradewarden.config import parse_config_text
from tradewarden.errors import ConfigError

CHANNELS = """
channels:
  - {name: alice-sms, type: apprise, url_env: TW_A}
  - {name: bob-mail, type: apprise, url_env: TW_B}
  - {name: chat, type: apprise, url_env: TW_C}
"""
GOOD = (
    CHANNELS
    + """
people:
  - {name: alice, channels: [alice-sms]}
  - {name: bob, channels: [bob-mail]}
schedules:
  - name: ops
    time_zone: Europe/Berlin
    layers:
      - {name: primary, members: [alice, bob], handoff_weekday: tuesday, handoff_time: "10:30"}
      - {name: secondary, members: [bob, alice]}
escalation_policies:
  - name: page
    severities: [P0]
    repeat: 2
    steps:
      - {channels: [chat], on_call: ["ops:primary"], wait_minutes: 15}
      - {on_call: ["ops:secondary", "*:primary"], people: [alice]}
"""
)


def test_a_full_config_loads() -> None:
    config = parse_config_text(GOOD)
    assert [p.name for p in config.people] == ["alice", "bob"]
    layer = config.schedules[0].layers[0]
    assert (layer.handoff_weekday, layer.handoff_time.isoformat()) == ("tuesday", "10:30:00")
    policy = config.escalation_policies[0]
    assert policy.steps[1].on_call_targets()[1].schedule == "*"


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (("channels: [alice-sms]", "channels: [pager]"), "people[alice].channels: 'pager'"),
        (("members: [alice, bob]", "members: [alice, zoe]"), "layers[primary].members: 'zoe'"),
        (('"ops:primary"', '"ops:tertiary"'), "has no layer 'tertiary'"),
        (('"ops:primary"', '"night:primary"'), "no schedule 'night'"),
        (("people: [alice]", "people: [zoe]"), "steps[2].people: 'zoe'"),
        (("channels: [chat]", "channels: [nope]"), "steps[1].channels: 'nope'"),
        (("Europe/Berlin", "Mars/Olympus"), "unknown time zone 'Mars/Olympus'"),
        (("handoff_weekday: tuesday", "handoff_weekday: someday"), "handoff_weekday"),
        (("repeat: 2", "repeat: -1"), "repeat"),
    ],
)
def test_a_bad_reference_is_named(change: tuple[str, str], named: str) -> None:
    text = GOOD.replace(*change)
    assert text != GOOD
    with pytest.raises(ConfigError) as caught:
        parse_config_text(text)
    assert named in str(caught.value)


def test_two_defaults_for_one_severity_are_refused() -> None:
    text = GOOD + """  - {name: other, severities: [P0]}\n"""
    with pytest.raises(ConfigError, match="P0 already defaults to 'page'"):
        parse_config_text(text)
