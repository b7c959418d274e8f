"""Results as Prometheus series, blackbox-exporter style, on the injected registry.

A custom collector rather than Gauges: the label sets of probe samples differ by kind,
and a removed monitor's series must vanish at once rather than linger at their last value.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from tradewarden.probes._model import MonitorState, ProbeResult
from tradewarden.probes._spec import MonitorSpec

__all__ = ["ProbeMetrics"]

_STATES: tuple[MonitorState, ...] = ("PENDING", "UP", "DOWN", "DEGRADED", "PAUSED")


@dataclass(frozen=True, slots=True)
class _Latest:
    kind: str
    result: ProbeResult
    state: MonitorState
    at: float


class ProbeMetrics(Collector):
    """The ResultSink that exposes the latest result of every monitor."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._latest: dict[str, _Latest] = {}
        self.schedule_delay = Histogram(
            "probe_schedule_delay_seconds",
            "How late checks started after their scheduled time.",
            registry=registry,
            buckets=(0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )
        registry.register(self)

    def publish(
        self, spec: MonitorSpec, result: ProbeResult, state: MonitorState, at: float
    ) -> None:
        """Keep the latest result of ``spec``."""
        self._latest[spec.name] = _Latest(spec.kind, result, state, at)

    def forget(self, name: str) -> None:
        """Drop a removed monitor's series."""
        self._latest.pop(name, None)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """Yield the series of every monitor's latest result."""
        success = GaugeMetricFamily(
            "probe_success",
            "Whether the last check succeeded (1) or not (0).",
            labels=["monitor", "kind"],
        )
        duration = GaugeMetricFamily(
            "probe_duration_seconds", "How long the last check took.", labels=["monitor", "kind"]
        )
        checked = GaugeMetricFamily(
            "probe_last_check_timestamp_seconds",
            "When the last check finished (Unix time).",
            labels=["monitor", "kind"],
        )
        state = GaugeMetricFamily(
            "monitor_state",
            "The monitor's state: 1 for the current one.",
            labels=["monitor", "state"],
        )
        extra: dict[str, tuple[str, list[tuple[dict[str, str], float]]]] = {}
        for name, latest in sorted(self._latest.items()):
            success.add_metric([name, latest.kind], 1.0 if latest.result.success else 0.0)
            duration.add_metric([name, latest.kind], latest.result.duration_s)
            checked.add_metric([name, latest.kind], latest.at)
            for candidate in _STATES:
                state.add_metric([name, candidate], 1.0 if candidate == latest.state else 0.0)
            for sample in latest.result.samples:
                help_text, points = extra.setdefault(sample.name, (sample.help, []))
                points.append(({"monitor": name, **sample.labels}, sample.value))
        yield success
        yield duration
        yield checked
        yield state
        for metric, (help_text, points) in sorted(extra.items()):
            keys = sorted({key for labels, _ in points for key in labels} - {"monitor"})
            family = GaugeMetricFamily(metric, help_text or metric, labels=["monitor", *keys])
            for labels, value in points:
                family.add_metric([labels["monitor"], *(labels.get(k, "") for k in keys)], value)
            yield family
