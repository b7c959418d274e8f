"""Inhibition and silences, pure."""

from __future__ import annotations

import pytest

from tradewarden.alerting import Alert, InhibitRuleConfig, parse_matchers
from tradewarden.alerting._inhibit import Inhibitor
from tradewarden.alerting._silences import (
    Silence,
    SilenceError,
    SilenceState,
    matchers_from_api,
    matchers_to_api,
)
from tradewarden.series import Labels


def _alert(ends: int | None = None, **labels: str) -> Alert:
    return Alert(Labels.of(labels), starts_at_ms=1, ends_at_ms=ends)


def test_a_source_mutes_targets_with_equal_labels() -> None:
    rule = InhibitRuleConfig(
        source_matchers=('alertname="AllProvidersDown"',),
        target_matchers=('alertname="ProviderDown"',),
        equal=("cluster",),
    )
    inhibitor = Inhibitor([rule])
    source = _alert(alertname="AllProvidersDown", cluster="a")
    same = _alert(alertname="ProviderDown", cluster="a", provider="p1")
    other = _alert(alertname="ProviderDown", cluster="b", provider="p1")
    alerts = [source, same, other]
    assert inhibitor.inhibited_by(same, alerts, 10) == source.fingerprint
    assert inhibitor.inhibited_by(other, alerts, 10) is None
    assert inhibitor.inhibited_by(source, alerts, 10) is None
    ended = _alert(5, alertname="AllProvidersDown", cluster="a")
    assert inhibitor.inhibited_by(same, [ended, same], 10) is None  # a resolved source
    # A label both lack is equal (empty on both sides), as in Alertmanager.
    bare = _alert(alertname="ProviderDown")
    assert inhibitor.inhibited_by(bare, [_alert(alertname="AllProvidersDown"), bare], 10)


def test_an_alert_matching_both_sides_does_not_mute_itself() -> None:
    rule = InhibitRuleConfig(
        source_matchers=('severity="critical"',),
        target_matchers=('severity=~"critical|warning"',),
        equal=("host",),
    )
    inhibitor = Inhibitor([rule])
    critical = _alert(alertname="A", severity="critical", host="h")
    other_critical = _alert(alertname="B", severity="critical", host="h")
    warning = _alert(alertname="C", severity="warning", host="h")
    alerts = [critical, other_critical, warning]
    assert inhibitor.inhibited_by(critical, alerts, 10) is None
    assert inhibitor.inhibited_by(warning, alerts, 10) in {
        critical.fingerprint,
        other_critical.fingerprint,
    }


def test_a_storm_behind_one_host_is_muted() -> None:
    rule = InhibitRuleConfig(
        source_matchers=('alertname="HostDown"',),
        target_matchers=('alertname="MonitorDown"',),
        equal=("host",),
    )
    alerts = [_alert(alertname="HostDown", host=f"h{h}") for h in range(30)]
    alerts += [
        _alert(alertname="MonitorDown", host=f"h{h}", monitor=str(m))
        for h in range(40)
        for m in range(30)
    ]
    muted = Inhibitor([rule]).index(alerts, 10)
    loud = [a for a in alerts if a.name == "MonitorDown" and muted(a) is None]
    assert {a.labels.get("host") for a in loud} == {f"h{h}" for h in range(30, 40)}


def _silence(**changes: object) -> Silence:
    values: dict[str, object] = {
        "id": "s1",
        "matchers": parse_matchers('bot="a"'),
        "starts_at_ms": 100,
        "ends_at_ms": 200,
        "created_by": "alice",
        "comment": "deploy",
    }
    values.update(changes)
    return Silence(**values)  # type: ignore[arg-type]


def test_silence_states_and_expiry() -> None:
    silence = _silence()
    assert [silence.state(t) for t in (99, 100, 199, 200)] == [
        SilenceState.PENDING,
        SilenceState.ACTIVE,
        SilenceState.ACTIVE,
        SilenceState.EXPIRED,
    ]
    assert silence.mutes(Labels.of(bot="a", x="y"), 150)
    assert not silence.mutes(Labels.of(bot="b"), 150)
    assert not silence.mutes(Labels.of(bot="a"), 250)
    early = silence.expired(50)
    assert (early.starts_at_ms, early.ends_at_ms, early.state(50)) == (50, 50, SilenceState.EXPIRED)
    late = silence.expired(150)
    assert (late.starts_at_ms, late.ends_at_ms) == (100, 150)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"matchers": ()}, "matchers"),
        ({"matchers": parse_matchers('a=~".*", b=""')}, "matchers"),
        ({"ends_at_ms": 100}, "endsAt"),
        ({"created_by": " "}, "createdBy"),
        ({"comment": ""}, "comment"),
    ],
)
def test_invalid_silences_name_the_field(changes: dict[str, object], field: str) -> None:
    with pytest.raises(SilenceError, match=f"^{field}:"):
        _silence(**changes).validate()


def test_api_matchers_round_trip() -> None:
    matchers = parse_matchers('a="1", b!="2", c=~"3|4", d!~"5"')
    assert matchers_from_api(matchers_to_api(matchers)) == matchers
    assert matchers_to_api(parse_matchers("c=~x"))[0] == {
        "name": "c",
        "value": "x",
        "isRegex": True,
        "isEqual": True,
    }
