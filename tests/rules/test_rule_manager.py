"""The rule manager over the real engine and the real series store: evaluation, the
ALERTS series, stale markers, reloads, restored ``for`` clocks and event-driven runs."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from support.eventually import eventually
from tradewarden.clock import ManualClock
from tradewarden.promql import Engine
from tradewarden.rules import (
    Alert,
    AlertState,
    MemorySink,
    RuleHealth,
    RuleLoadError,
    RuleManager,
    RuleManagerOptions,
    engine_query,
    parse_rule_text,
)
from tradewarden.series import LabelMatcher, Labels, MatchOp, is_stale
from tradewarden.series._store import SeriesStore

START_S = 1_700_000_000.0

RULES = """\
groups:
  - name: api
    rules:
      - record: job:up:sum
        expr: sum by (job) (up)
      - alert: InstanceDown
        expr: up == 0
        for: 1m
        labels:
          severity: page
          owner: "team-{{ $labels.job }}"
        annotations:
          summary: "{{ $labels.instance }} of {{ $labels.job }} is down ({{ $value }})"
"""


class Counting:
    """The engine's query port, counting evaluations."""

    def __init__(self, store: SeriesStore) -> None:
        self.inner = engine_query(Engine(store))
        self.calls = 0

    def __call__(self, expr: Any, t_ms: int) -> Sequence[tuple[Labels, float]]:
        self.calls += 1
        return self.inner(expr, t_ms)


class Warden:
    """A store, a clock, and a rule manager wired as the runtime wires them."""

    def __init__(self, store: SeriesStore | None = None, clock: ManualClock | None = None):
        self.store = store or SeriesStore()
        self.clock = clock or ManualClock(START_S)
        self.query = Counting(self.store)
        self.sink = MemorySink()
        self.manager = RuleManager(
            query=self.query,
            storage=self.store,
            appender=self.store,
            clock=self.clock,
            sink=self.sink,
            options=RuleManagerOptions(evaluation_interval_ms=3_600_000),
        )
        self.unsubscribe = self.store.subscribe(self.manager.notify, series=True)

    @property
    def now_ms(self) -> int:
        return int(self.clock.now() * 1000)

    def up(self, instance: str, value: float, job: str = "api") -> None:
        labels = Labels.of(__name__="up", job=job, instance=instance)
        self.store.append(labels, self.now_ms, value)

    async def tick(self, seconds: float) -> None:
        self.clock.advance(seconds)
        await self.manager.evaluate_now()

    def series(self, name: str) -> dict[Labels, list[float]]:
        matchers = [LabelMatcher("__name__", MatchOp.EQUAL, name)]
        return {s.labels: list(s.values) for s in self.store.select(matchers, 0, 2**62)}

    def alert(self) -> Alert:
        (alert, _rule, _group) = self.manager.alerts()[0]
        return alert

    async def close(self) -> None:
        self.unsubscribe()
        await self.manager.stop()


@pytest.fixture
async def warden() -> AsyncIterator[Warden]:
    w = Warden()
    w.manager.apply(parse_rule_text(RULES, "api.yml"))
    yield w
    await w.close()


async def test_alert_goes_pending_firing_resolved_with_series(warden: Warden) -> None:
    warden.up("a:1", 0)
    warden.up("b:1", 1)
    await warden.manager.start()
    alert = warden.alert()
    assert alert.state is AlertState.PENDING
    assert alert.labels == Labels.of(
        alertname="InstanceDown", instance="a:1", job="api", severity="page", owner="team-api"
    )
    assert dict(alert.annotations) == {"summary": "a:1 of api is down (0)"}
    assert warden.series("job:up:sum") == {Labels.of(__name__="job:up:sum", job="api"): [1.0]}

    for _ in range(4):
        warden.clock.advance(15)
        warden.up("a:1", 0)
        await warden.manager.evaluate_now()
    assert alert.state is AlertState.FIRING
    assert alert.fired_at_ms == alert.active_at_ms + 60_000
    firing = Labels.from_pairs([*alert.labels, ("alertstate", "firing"), ("__name__", "ALERTS")])
    pending = firing.set("alertstate", "pending")
    for_state = alert.labels.set("__name__", "ALERTS_FOR_STATE")
    alerts = warden.series("ALERTS")
    assert alerts[firing] == [1.0]
    # Nothing is written at the first evaluation, before the for state is restored.
    assert alerts[pending][:-1] == [1.0] * 3
    assert is_stale(alerts[pending][-1])  # pending ended when it fired
    assert warden.series("ALERTS_FOR_STATE")[for_state] == [alert.active_at_ms / 1000] * 4
    assert [a.state for a in warden.sink.alerts()] == [AlertState.FIRING]

    warden.clock.advance(15)
    warden.up("a:1", 1)
    await warden.manager.evaluate_now()
    assert alert.state is AlertState.INACTIVE
    assert alert.resolved_at_ms == warden.now_ms
    assert is_stale(warden.series("ALERTS")[firing][-1])
    assert is_stale(warden.series("ALERTS_FOR_STATE")[for_state][-1])
    assert [a.state for a in warden.sink.alerts()] == [AlertState.INACTIVE]
    assert warden.manager.alerts()[0][0] is alert  # kept, resolved, for the API


async def test_keep_firing_for_holds_the_alert(warden: Warden) -> None:
    text = RULES.replace("for: 1m", "keep_firing_for: 1m")
    warden.manager.apply(parse_rule_text(text, "api.yml"))
    warden.up("a:1", 0)
    await warden.manager.start()
    alert = warden.alert()
    assert alert.state is AlertState.FIRING
    warden.clock.advance(30)
    warden.up("a:1", 1)
    await warden.manager.evaluate_now()
    assert alert.state is AlertState.FIRING
    assert alert.keep_firing_since_ms == warden.now_ms
    await warden.tick(61)
    assert alert.state is AlertState.INACTIVE


async def test_query_error_and_limit_mark_the_rule_unhealthy(warden: Warden) -> None:
    text = """\
groups:
  - name: g
    limit: 1
    rules:
      - alert: TooMany
        expr: up == 0
      - record: bad
        expr: sum(up) + on(job) group_left up + on(job) group_left up
      - alert: Fine
        expr: vector(1)
"""
    warden.manager.apply(parse_rule_text(text, "g.yml"))
    warden.up("a:1", 0)
    warden.up("b:1", 0)
    await warden.manager.start()
    many, _bad, fine = warden.manager.groups()[0].rules
    assert many.health is RuleHealth.ERR
    assert many.last_error == "exceeded limit of 1 with 2 alerts"
    assert fine.health is RuleHealth.OK
    assert [a.name for a, _, _ in warden.manager.alerts()] == ["Fine"]


async def test_reload_is_all_or_nothing_and_keeps_alert_state(
    warden: Warden, tmp_path: Path
) -> None:
    warden.up("a:1", 0)
    await warden.manager.start()
    alert = warden.alert()
    good, bad = tmp_path / "good.yml", tmp_path / "bad.yml"
    good.write_text(RULES.replace("summary:", "description:"))
    bad.write_text("groups:\n  - name: x\n    rules:\n      - alert: X\n        expr: 'up +'\n")
    with pytest.raises(RuleLoadError) as caught:
        warden.manager.load_files([good, bad])
    assert caught.value.problems[0].file == str(bad)
    assert [g.key for g in warden.manager.groups()] == [("api.yml", "api")]

    renamed = RULES.replace("job:up:sum", "job:up:total")
    (tmp_path / "api.yml").write_text(renamed)
    warden.manager.apply(parse_rule_text(renamed, "api.yml"))
    await warden.tick(15)
    assert warden.alert().active_at_ms == alert.active_at_ms  # the same alert, carried over
    recorded = warden.series("job:up:sum")[Labels.of(__name__="job:up:sum", job="api")]
    assert is_stale(recorded[-1])  # the removed rule's series ends
    assert warden.series("job:up:total")

    warden.clock.advance(1)
    warden.manager.apply([])
    assert all(is_stale(v[-1]) for v in warden.series("ALERTS").values())


async def test_for_clock_survives_a_restart(tmp_path: Path) -> None:
    del tmp_path
    text = RULES.replace("for: 1m", "for: 20m")
    first = Warden()
    first.manager.apply(parse_rule_text(text, "api.yml"))
    first.up("a:1", 0)
    await first.manager.start()
    for _ in range(20):  # pending for 5 minutes
        first.clock.advance(15)
        first.up("a:1", 0)
        await first.manager.evaluate_now()
    active_at = first.alert().active_at_ms
    await first.close()

    first.clock.advance(120)  # down for two minutes; the store (its snapshot) survives
    second = Warden(first.store, first.clock)
    second.manager.apply(parse_rule_text(text, "api.yml"))
    second.up("a:1", 0)
    await second.manager.start()
    alert = second.alert()
    down_s = 120
    assert alert.active_at_ms == active_at + down_s * 1000
    assert alert.state is AlertState.PENDING
    await second.close()

    # Down longer than the outage tolerance (1 h): the clock starts again.
    first.clock.advance(7200)
    third = Warden(first.store, first.clock)
    third.manager.apply(parse_rule_text(text, "api.yml"))
    third.up("a:1", 0)
    await third.manager.start()
    assert third.alert().active_at_ms == third.now_ms
    await third.close()


async def test_fresh_samples_wake_only_the_groups_that_read_them() -> None:
    w = Warden()
    text = """\
groups:
  - name: reads_up
    rules:
      - alert: Down
        expr: up == 0
  - name: reads_other
    rules:
      - record: other:sum
        expr: sum(other)
"""
    w.manager.apply(parse_rule_text(text, "g.yml"))
    await w.manager.start()
    assert w.manager.alerts() == []
    calls = w.query.calls
    for _ in range(50):  # one burst: one evaluation
        w.up("a:1", 0)
        w.clock.advance(0.01)
    await eventually(lambda: bool(w.manager.alerts()))
    (alert, _rule, group) = w.manager.alerts()[0]
    assert (alert.state, group.name) == (AlertState.FIRING, "reads_up")
    assert w.query.calls == calls + 1  # the other group was not woken
    assert [a.name for a in w.sink.alerts()] == ["Down"]
    await w.close()


async def test_a_fresh_sample_evaluates_only_the_rules_that_select_its_series() -> None:
    # One generated rule per monitor, all reading monitor_state: a check of monitor a
    # evaluated every monitor's rule (N rules a check, N² a round of checks).
    w = Warden()
    rules = "".join(
        f"""\
      - alert: MonitorDown
        expr: monitor_state{{monitor="{name}", state="DOWN"}} == 1
        labels: {{monitor_rule: "{name}"}}
"""
        for name in ("a", "b", "c")
    )
    text = f"""\
groups:
  - name: monitors
    rules:
{rules}      - record: monitors:down
        expr: sum(monitor_state{{monitor="b", state="DOWN"}})
      - alert: SomeMonitorDown
        expr: monitors:down > 0
"""
    w.manager.apply(parse_rule_text(text, "g.yml"))
    await w.manager.start()
    calls = w.query.calls
    w.store.append(Labels.of(__name__="monitor_state", monitor="a", state="DOWN"), w.now_ms, 1)
    await eventually(lambda: bool(w.manager.alerts()))
    assert [alert.labels.get("monitor_rule") for alert, _r, _g in w.manager.alerts()] == ["a"]
    assert w.query.calls == calls + 1  # b's, c's and the sum's rules were not evaluated

    calls = w.query.calls
    w.clock.advance(1)
    w.store.append(Labels.of(__name__="monitor_state", monitor="b", state="DOWN"), w.now_ms, 1)
    await eventually(lambda: len(w.manager.alerts()) == 3)
    firing = sorted(a.name + a.labels.get("monitor_rule") for a, _r, _g in w.manager.alerts())
    assert firing == ["MonitorDowna", "MonitorDownb", "SomeMonitorDown"]
    # b's rule, the sum over b, and the alert on what the sum just recorded.
    assert w.query.calls == calls + 3
    await w.close()


async def test_a_groups_own_samples_do_not_wake_it() -> None:
    w = Warden()
    text = """\
groups:
  - name: self
    rules:
      - record: loop:value
        expr: vector(1) + sum(loop:value or vector(0))
"""
    w.manager.apply(parse_rule_text(text, "g.yml"))
    await w.manager.start()
    await w.manager.evaluate_now()
    assert not any(r.woken for r in w.manager._runners.values())
    await w.close()


async def test_recorded_series_wake_the_rules_that_read_them() -> None:
    w = Warden()
    text = """\
groups:
  - name: record
    rules:
      - record: job:up:min
        expr: min by (job) (up)
  - name: alert
    rules:
      - alert: JobDown
        expr: job:up:min == 0
"""
    w.manager.apply(parse_rule_text(text, "g.yml"))
    await w.manager.start()
    w.clock.advance(1)
    w.up("a:1", 0)
    await eventually(lambda: bool(w.manager.alerts()))
    assert w.alert().name == "JobDown"
    await w.close()


async def test_scalar_results_and_nan_values() -> None:
    w = Warden()
    text = """\
groups:
  - name: g
    rules:
      - record: answer
        expr: scalar(vector(42))
      - alert: NaNValue
        expr: vector(NaN)
        annotations: {v: "{{ $value }}"}
"""
    w.manager.apply(parse_rule_text(text, "g.yml"))
    await w.manager.start()
    assert w.series("answer") == {Labels.of(__name__="answer"): [42.0]}
    alert = w.alert()
    assert math.isnan(alert.value)
    assert dict(alert.annotations) == {"v": "NaN"}
    await w.close()


async def test_alerts_series_and_nameless_selectors_do_not_wake_groups() -> None:
    w = Warden()
    text = """\
groups:
  - name: base
    rules:
      - alert: Down
        expr: up == 0
  - name: meta
    rules:
      - alert: SomethingFires
        expr: count(ALERTS) > 0
      - alert: AnyJob
        expr: count({job="api"}) > 0
"""
    w.manager.apply(parse_rule_text(text, "g.yml"))
    await w.manager.start()
    w.clock.advance(1)
    w.up("a:1", 0)
    await eventually(lambda: bool(w.manager.alerts()))
    assert [a.name for a, _, _ in w.manager.alerts()] == ["Down"]
    runners = {r.group.name: r for r in w.manager._runners.values()}
    assert not runners["meta"].woken
    await w.manager.evaluate_now()  # the interval's evaluation sees both
    assert sorted(a.name for a, _, _ in w.manager.alerts()) == ["AnyJob", "Down", "SomethingFires"]
    await w.close()


async def test_a_notification_from_another_thread_wakes_the_group() -> None:
    w = Warden()
    w.manager.apply(parse_rule_text(RULES.replace("for: 1m", ""), "api.yml"))
    await w.manager.start()
    w.clock.advance(1)
    with w.store.batch():  # appended here, told from the scraper's thread below
        w.unsubscribe()
        w.up("a:1", 0)
    await asyncio.to_thread(w.manager.notify, frozenset({"up"}))
    await eventually(lambda: bool(w.manager.alerts()))
    assert w.alert().state is AlertState.FIRING
    await w.manager.stop()


async def test_a_short_for_survives_a_restart_with_the_default_grace_period() -> None:
    text = RULES.replace("for: 1m", "for: 5m")
    first = Warden()
    first.manager.apply(parse_rule_text(text, "api.yml"))
    first.up("a:1", 0)
    await first.manager.start()
    for _ in range(12):  # pending for three minutes
        first.clock.advance(15)
        first.up("a:1", 0)
        await first.manager.evaluate_now()
    active_at = first.alert().active_at_ms
    await first.close()

    first.clock.advance(30)
    second = Warden(first.store, first.clock)
    second.manager.apply(parse_rule_text(text, "api.yml"))
    second.up("a:1", 0)
    await second.manager.start()
    assert second.alert().active_at_ms == active_at + 30_000  # not reset to now
    await second.close()
