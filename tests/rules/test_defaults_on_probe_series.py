"""The generated monitor rules on the very series the probes write (the probe's own
samples through the store sink, not hand-written ones): the alerts carry the monitor's
identity and nothing the series happens to repeat."""

from __future__ import annotations

from collections.abc import Sequence

import httpx

from tradewarden.clock import ManualClock
from tradewarden.probes import HeartbeatBoard, ProbeContext
from tradewarden.probes.kinds import HeartbeatSpec
from tradewarden.promql import Engine
from tradewarden.rules import (
    Alert,
    AlertState,
    RuleManager,
    RuleManagerOptions,
    engine_query,
    parse_rule_document,
)
from tradewarden.rules._defaults import default_rule_file
from tradewarden.series import LabelMatcher, Labels, MatchOp
from tradewarden.series._probes import StoreResultSink
from tradewarden.series._store import SeriesStore

START_S = 1_800_000_000.0


class _Sink:
    def __init__(self) -> None:
        self.sent: list[Alert] = []

    async def send(self, alerts: Sequence[Alert]) -> None:
        self.sent.extend(alerts)


async def test_heartbeat_missed_carries_the_monitor_labels_only() -> None:
    clock = ManualClock(START_S)
    spec = HeartbeatSpec(
        name="bot-loop", period_s=60, grace_s=30, interval_s=10, labels={"bot": "sol-1"}
    )
    store = SeriesStore()
    results = StoreResultSink(store, clock)
    board = HeartbeatBoard(None, clock)
    await board.ping("bot-loop", "success")
    probe = spec.build()
    sink = _Sink()
    manager = RuleManager(
        query=engine_query(Engine(store)),
        storage=store,
        appender=store,
        clock=clock,
        sink=sink,
        options=RuleManagerOptions(for_grace_period_ms=0),
    )
    manager.apply(parse_rule_document(default_rule_file([spec]), "<defaults>"))
    async with httpx.AsyncClient() as http:
        for _ in range(10):  # the bot is silent for 100 s: past period + grace
            clock.advance(10)
            context = ProbeContext(clock=clock, timeout_s=1.0, http=http, heartbeats=board)
            result = await probe.run(context)
            results.publish(spec, result, "DOWN" if not result.success else "UP", clock.now())
    # The probe's sample repeats the heartbeat's name; the alert must not.
    matcher = LabelMatcher("__name__", MatchOp.EQUAL, "heartbeat_last_seen_timestamp_seconds")
    (seen,) = store.series_labels([matcher])
    assert seen.get("name") == "bot-loop"
    await manager.evaluate_now()
    missed = [a for a in sink.sent if a.name == "HeartbeatMissed"]
    assert [a.state for a in missed] == [AlertState.FIRING]
    assert missed[0].labels == Labels.of(
        {
            "alertname": "HeartbeatMissed",
            "monitor": "bot-loop",
            "kind": "heartbeat",
            "severity": "critical",
            "bot": "sol-1",
        }
    )
