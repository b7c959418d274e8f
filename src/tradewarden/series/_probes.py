"""Probe results straight into the series store (no scrape), and a fan-out sink.

The series are exactly those :class:`tradewarden.probes.ProbeMetrics` exposes on
``/metrics`` (``probe_success``, ``probe_duration_seconds``,
``probe_last_check_timestamp_seconds``, ``monitor_state`` and each kind's samples, labelled
by ``monitor``), so a rule written for the store also works on a Prometheus that scrapes
the warden (which adds its own ``job`` and ``instance``). A series a monitor stops
reporting, and every series of a removed monitor, gets a stale marker.
"""

from __future__ import annotations

from collections.abc import Iterable

from tradewarden.clock import Clock, SystemClock
from tradewarden.probes import MonitorSpec, ResultSink
from tradewarden.probes._model import MonitorState, ProbeResult
from tradewarden.series._labels import METRIC_NAME, Labels
from tradewarden.series._ports import STALE_NAN
from tradewarden.series._store import SeriesStore

__all__ = ["FanOutSink", "StoreResultSink"]

_STATES: tuple[MonitorState, ...] = ("PENDING", "UP", "DOWN", "DEGRADED", "PAUSED")
BASE_NAMES = frozenset(
    {
        "probe_success",
        "probe_duration_seconds",
        "probe_last_check_timestamp_seconds",
        "monitor_state",
    }
)


class StoreResultSink:
    """The ``ResultSink`` that appends every result to a :class:`SeriesStore`."""

    def __init__(self, store: SeriesStore, clock: Clock | None = None) -> None:
        self._store = store
        self._clock = clock or SystemClock()
        self._written: dict[str, tuple[int, set[Labels]]] = {}
        self._names: set[str] = set(BASE_NAMES)

    def metric_names(self) -> frozenset[str]:
        """Every metric name this sink writes (the self-scrape leaves them out)."""
        return frozenset(self._names)

    def publish(
        self, spec: MonitorSpec, result: ProbeResult, state: MonitorState, at: float
    ) -> None:
        """Append the result's series at ``at``; stale-mark series it no longer has."""
        t_ms = int(at * 1000)
        name, kind = spec.name, spec.kind
        points: list[tuple[Labels, float]] = [
            (_labels("probe_success", monitor=name, kind=kind), 1.0 if result.success else 0.0),
            (_labels("probe_duration_seconds", monitor=name, kind=kind), result.duration_s),
            (_labels("probe_last_check_timestamp_seconds", monitor=name, kind=kind), at),
        ]
        points += [
            (_labels("monitor_state", monitor=name, state=s), 1.0 if s == state else 0.0)
            for s in _STATES
        ]
        for sample in result.samples:
            self._names.add(sample.name)
            points.append(
                (
                    Labels.from_pairs(
                        [(METRIC_NAME, sample.name), ("monitor", name), *sample.labels.items()]
                    ),
                    sample.value,
                )
            )
        current = {labels for labels, _ in points}
        _, previous = self._written.get(name, (0, set()))
        with self._store.batch():
            for labels, value in points:
                self._store.append(labels, t_ms, value)
            for labels in previous - current:
                self._store.append(labels, t_ms, STALE_NAN)
        self._written[name] = (t_ms, current)

    def forget(self, name: str) -> None:
        """Stale-mark every series of the removed monitor ``name``."""
        entry = self._written.pop(name, None)
        if entry is None:
            return
        last_ms, series = entry
        t_ms = max(int(self._clock.now() * 1000), last_ms + 1)
        self._store.append_many((labels, t_ms, STALE_NAN) for labels in series)


class FanOutSink:
    """Hand every result to each of several sinks, in order."""

    def __init__(self, sinks: Iterable[ResultSink]) -> None:
        self._sinks = tuple(sinks)

    def publish(
        self, spec: MonitorSpec, result: ProbeResult, state: MonitorState, at: float
    ) -> None:
        """See :class:`tradewarden.probes.ResultSink`."""
        for sink in self._sinks:
            sink.publish(spec, result, state, at)

    def forget(self, name: str) -> None:
        """See :class:`tradewarden.probes.ResultSink`."""
        for sink in self._sinks:
            sink.forget(name)


def _labels(name: str, **labels: str) -> Labels:
    return Labels.of(labels, __name__=name)
