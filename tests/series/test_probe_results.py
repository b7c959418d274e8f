"""Probe results in the store: the very series ProbeMetrics exposes, and stale markers."""

from __future__ import annotations

from typing import Literal

from prometheus_client import CollectorRegistry, generate_latest

from tradewarden.clock import ManualClock
from tradewarden.probes import MonitorSpec, Probe, ProbeContext, ProbeMetrics, ProbeResult, Sample
from tradewarden.series import LabelMatcher, Labels, MatchOp, is_stale
from tradewarden.series._exposition import parse_exposition
from tradewarden.series._probes import FanOutSink, StoreResultSink
from tradewarden.series._store import SeriesStore


class _Spec(MonitorSpec):
    kind: Literal["fake"] = "fake"

    def build(self) -> Probe:
        return _Probe()


class _Probe:
    async def run(self, ctx: ProbeContext) -> ProbeResult:
        return ProbeResult(True, 0.0)


def _current(store: SeriesStore) -> dict[Labels, float]:
    everything = [LabelMatcher("__name__", MatchOp.NOT_EQUAL, "")]
    return {
        s.labels: s.values[-1]
        for s in store.select(everything, 0, 2**62)
        if not is_stale(s.values[-1])
    }


def _exposed(registry: CollectorRegistry, names: frozenset[str]) -> dict[Labels, float]:
    parsed = parse_exposition(generate_latest(registry).decode())
    return {labels: v for labels, v, _ in parsed.samples if labels.metric_name in names}


def test_the_store_holds_exactly_what_probe_metrics_exposes() -> None:
    registry = CollectorRegistry()
    store = SeriesStore()
    clock = ManualClock()
    direct = StoreResultSink(store, clock)
    sink = FanOutSink([ProbeMetrics(registry), direct])
    api, db = _Spec(name="api"), _Spec(name="db")
    sink.publish(
        api,
        ProbeResult(
            True,
            0.25,
            samples=(
                Sample("probe_http_status_code", 200.0),
                Sample("probe_tls_days", 30.0, {"cert": "leaf"}),
            ),
        ),
        "UP",
        clock.now(),
    )
    sink.publish(db, ProbeResult.failure("refused", 0.5), "DOWN", clock.now())
    assert _current(store) == _exposed(registry, direct.metric_names())
    assert _current(store)[Labels.of(__name__="monitor_state", monitor="db", state="DOWN")] == 1
    assert _current(store)[Labels.of(__name__="probe_tls_days", monitor="api", cert="leaf")] == 30

    # A sample the monitor stops reporting goes stale; a removed monitor's series all do.
    clock.advance(5)
    sink.publish(api, ProbeResult(True, 0.1), "UP", clock.now())
    clock.advance(5)
    sink.forget("db")
    assert _current(store) == _exposed(registry, direct.metric_names())
    assert not any(labels.get("monitor") == "db" for labels in _current(store))
    assert Labels.of(__name__="probe_http_status_code", monitor="api") not in _current(store)


def test_each_result_is_one_notification() -> None:
    store = SeriesStore()
    heard: list[frozenset[str]] = []
    store.subscribe(heard.append)
    sink = StoreResultSink(store, ManualClock())
    sink.publish(_Spec(name="api"), ProbeResult(True, 0.1), "UP", 1_700_000_000.0)
    assert heard == [
        frozenset(
            {
                "probe_success",
                "probe_duration_seconds",
                "probe_last_check_timestamp_seconds",
                "monitor_state",
            }
        )
    ]
