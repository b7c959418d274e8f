"""The monitors' generated rules while monitors come and go: an alert stays with its own
monitor's rule, and a removed monitor's firing alert is handed off resolved."""

from __future__ import annotations

from collections.abc import Sequence

from support.eventually import eventually
from tradewarden.clock import ManualClock
from tradewarden.probes import MonitorSpec
from tradewarden.probes.kinds import HttpSpec
from tradewarden.promql import Engine
from tradewarden.rules import (
    Alert,
    AlertState,
    GroupSpec,
    MonitorRules,
    RuleManager,
    RuleManagerOptions,
    RulesConfig,
    engine_query,
)
from tradewarden.series import Labels
from tradewarden.series._store import SeriesStore

START_S = 1_800_000_000.0


class _Sink:
    def __init__(self) -> None:
        self.sent: list[Alert] = []

    async def send(self, alerts: Sequence[Alert]) -> None:
        self.sent.extend(alerts)

    def of(self, monitor: str) -> list[AlertState]:
        return [a.state for a in self.sent if a.labels.get("monitor") == monitor]


def _http(name: str) -> HttpSpec:
    return HttpSpec(name=name, url=f"http://127.0.0.1:9/{name}", interval_s=10, timeout_s=1)


class _Rig:
    def __init__(self, monitors: list[MonitorSpec]) -> None:
        self.clock = ManualClock(START_S)
        self.store = SeriesStore()
        self.sink = _Sink()
        self.monitors = monitors
        self.manager = RuleManager(
            query=engine_query(Engine(self.store)),
            storage=self.store,
            appender=self.store,
            clock=self.clock,
            sink=self.sink,
            options=RuleManagerOptions(evaluation_interval_ms=3_600_000),
        )
        self.manager.generated = MonitorRules(RulesConfig(), lambda: self.monitors)
        self.manager.apply([])

    def state(self, monitor: str, state: str) -> None:
        for candidate in ("UP", "DOWN"):
            labels = Labels.of(__name__="monitor_state", monitor=monitor, state=candidate)
            value = 1.0 if candidate == state else 0.0
            self.store.append(labels, int(self.clock.now() * 1000), value)

    async def tick(self) -> None:
        self.clock.advance(10)
        await self.manager.evaluate_now()

    def firing(self) -> dict[str, int]:
        return {
            alert.labels.get("monitor"): alert.active_at_ms
            for alert, _rule, _group in self.manager.alerts()
            if alert.state is AlertState.FIRING
        }


async def test_a_monitor_added_before_a_firing_one_leaves_its_alert_alone() -> None:
    rig = _Rig([_http("zz-exchange")])
    rig.state("zz-exchange", "DOWN")
    await rig.tick()
    assert rig.sink.of("zz-exchange") == [AlertState.FIRING]
    fired = rig.firing()

    # A new monitor sorts first: its rule (same name and labels) comes before the old one.
    rig.monitors = [_http("aa-venue"), _http("zz-exchange")]
    assert rig.manager.refresh_generated()
    rig.state("aa-venue", "UP")
    rig.state("zz-exchange", "DOWN")
    await rig.tick()
    assert rig.firing() == fired  # the same alert, its start kept
    assert rig.sink.of("zz-exchange") == [AlertState.FIRING]  # no resolved, no refiring


async def test_a_removed_monitors_firing_alert_is_handed_off_resolved() -> None:
    rig = _Rig([_http("exchange"), _http("venue")])
    rig.state("exchange", "DOWN")
    rig.state("venue", "UP")
    await rig.tick()
    assert rig.sink.of("exchange") == [AlertState.FIRING]

    await rig.manager.start()
    try:
        rig.monitors = [_http("venue")]  # deleted while DOWN: its rule goes with it
        assert rig.manager.refresh_generated()
        await eventually(lambda: len(rig.sink.of("exchange")) == 2)
    finally:
        await rig.manager.stop()
    assert rig.sink.of("exchange") == [AlertState.FIRING, AlertState.INACTIVE]
    (resolved,) = [a for a in rig.sink.sent if a.state is AlertState.INACTIVE]
    assert resolved.resolved_at_ms is not None
    assert rig.firing() == {}


async def test_a_resolution_cut_short_by_the_removal_is_still_handed_off() -> None:
    rig = _Rig([_http("exchange"), _http("venue")])
    rig.state("exchange", "DOWN")
    await rig.tick()
    await rig.manager.start()
    try:
        # An evaluation resolved the alert, then the removal retired the group before its
        # hand-off (a retired group hands nothing off).
        (rule,) = [
            rule
            for group in rig.manager.groups()
            for rule in group.alerting_rules()
            if 'monitor="exchange"' in rule.spec.expr
        ]
        rule.tracker.update({}, int(rig.clock.now() * 1000) + 1)
        rig.monitors = [_http("venue")]
        assert rig.manager.refresh_generated()
        await eventually(lambda: len(rig.sink.of("exchange")) == 2)
    finally:
        await rig.manager.stop()
    assert rig.sink.of("exchange") == [AlertState.FIRING, AlertState.INACTIVE]


async def test_an_announced_change_refreshes_the_generated_rules_on_the_next_turn() -> None:
    rig = _Rig([_http("exchange")])
    calls = 0
    specs = rig.manager.generated
    assert specs is not None

    def counting() -> Sequence[GroupSpec]:
        nonlocal calls
        calls += 1
        return specs()

    rig.manager.generated = counting
    rig.manager.generated_changed()  # not started: nothing to refresh yet
    await rig.manager.start()
    try:
        rig.monitors = [_http("exchange"), _http("venue")]
        before = calls
        for _ in range(3):  # a burst (a reload, a sync): one refresh
            rig.manager.generated_changed()
        assert calls == before  # not in the caller's turn

        def has_venue_rule() -> bool:
            return any(
                'monitor="venue"' in rule.spec.expr
                for group in rig.manager.groups()
                for rule in group.alerting_rules()
            )

        await eventually(has_venue_rule)
        assert calls - before == 2  # the refresh's check, and the apply reading the groups
    finally:
        await rig.manager.stop()
