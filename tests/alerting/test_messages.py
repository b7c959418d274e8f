"""A group's message: its title, the labels its alerts share and a bounded description."""

from __future__ import annotations

from tradewarden.alerting import Alert
from tradewarden.alerting._messages import group_message
from tradewarden.series import Labels


def _alert(i: int, **labels: str) -> Alert:
    return Alert(
        labels=Labels.of(alertname="BotDown", severity="critical", bot=f"b{i}", **labels),
        annotations={"summary": f"bot b{i} stopped"},
        starts_at_ms=1_000 + i,
    )


def test_the_labels_shared_by_every_alert_are_the_message_labels() -> None:
    alerts = [_alert(0, host="h1"), _alert(1, host="h1"), _alert(2, host="h2")]
    message = group_message("g", {"alertname": "BotDown"}, alerts, [])
    assert message.labels == {"alertname": "BotDown", "severity": "critical"}
    assert message.title == "[FIRING:3] BotDown"


def test_a_huge_group_lists_its_first_alerts_within_the_description_limit() -> None:
    firing = [_alert(i) for i in range(10_000)]
    resolved = [_alert(i, host="gone") for i in range(10_000, 10_010)]
    message = group_message("g", {}, firing, resolved)
    lines = message.description.splitlines()
    assert len(message.description) <= 10_000
    assert lines[0] == "[firing] BotDown {bot=b0, severity=critical} bot b0 stopped"
    assert lines[1].startswith("[firing] BotDown {bot=b1,")
    assert "[resolved]" not in message.description  # the firing ones fill it first
    assert message.title == "[FIRING:10000] BotDown"
    assert message.started_at.timestamp() == 1.0


def test_a_small_group_lists_firing_then_resolved() -> None:
    message = group_message("g", {}, [_alert(0)], [_alert(1)])
    assert message.description.splitlines() == [
        "[firing] BotDown {bot=b0, severity=critical} bot b0 stopped",
        "[resolved] BotDown {bot=b1, severity=critical} bot b1 stopped",
    ]
