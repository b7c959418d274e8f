"""Ranking endpoints from sampled pings: pure functions, property-tested.

The score is viem's ``fallback({rank: true})``: over an endpoint's last N samples,
``latency_score = 1 - mean_latency / max_mean_latency`` (the slowest endpoint of the
group scores 0, an instant one 1) and ``stability = successes / samples``;
``score = 0.3 * latency_score + 0.7 * stability``, and 0 when no sample succeeded.

Slot lag: an endpoint more than ``max_lag`` behind the group's highest height (slot,
block number) is demoted below every endpoint that keeps up, whatever its tier.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

__all__ = ["Sample", "Standing", "lags", "rank", "scores"]

LATENCY_WEIGHT = 0.3
STABILITY_WEIGHT = 0.7


@dataclass(frozen=True, slots=True)
class Sample:
    """One ping: whether it answered, how long it took, and the height it reported."""

    ok: bool
    latency_s: float
    height: int | None = None


@dataclass(frozen=True, slots=True)
class Standing:
    """Where an endpoint stands: its tier, score, weight and lag, and whether it is demoted."""

    name: str
    priority: int
    weight: float
    score: float
    lag: int | None
    demoted: bool


def scores(
    samples: Mapping[str, Sequence[Sample]],
    *,
    latency_weight: float = LATENCY_WEIGHT,
    stability_weight: float = STABILITY_WEIGHT,
) -> dict[str, float]:
    """Return each sampled endpoint's score in [0, 1]; endpoints without samples are left out."""
    means = {
        name: sum(s.latency_s for s in window) / len(window)
        for name, window in samples.items()
        if window
    }
    slowest = max(means.values(), default=0.0)
    result: dict[str, float] = {}
    for name, mean in means.items():
        window = samples[name]
        stability = sum(1 for s in window if s.ok) / len(window)
        if stability == 0.0:
            result[name] = 0.0
            continue
        latency_score = 1.0 - mean / slowest if slowest > 0 else 1.0
        result[name] = latency_weight * latency_score + stability_weight * stability
    return result


def lags(heights: Mapping[str, int | None]) -> dict[str, int | None]:
    """Return how far each endpoint is behind the highest height reported (None: unknown)."""
    known = [h for h in heights.values() if h is not None]
    top = max(known, default=None)
    return {
        name: None if h is None or top is None else max(0, top - h) for name, h in heights.items()
    }


def rank(standings: Iterable[Standing]) -> list[Standing]:
    """Return the endpoints best first: keeping up, then tier, then score times weight."""
    return sorted(standings, key=lambda s: (s.demoted, s.priority, -s.score * s.weight, s.name))
