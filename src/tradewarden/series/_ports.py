"""The port between the series store and its readers (the PromQL evaluator, rules, API).

    Queryable.select(matchers, start_ms, end_ms) -> Iterable[SeriesData]

Times are integer milliseconds since the epoch, as in Prometheus. Values are float64; a
stale marker is the special NaN :data:`STALE_NAN` (bit pattern ``0x7ff0000000000002``,
the one Prometheus writes), told apart from an ordinary NaN by :func:`is_stale`.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from tradewarden.series._labels import LabelMatcher, Labels

__all__ = ["STALE_NAN", "Appender", "Queryable", "SeriesData", "is_stale"]

_STALE_BITS = 0x7FF0000000000002
STALE_NAN: float = struct.unpack("<d", struct.pack("<Q", _STALE_BITS))[0]


def is_stale(value: float) -> bool:
    """Whether ``value`` is Prometheus's stale marker (not any NaN)."""
    return math.isnan(value) and struct.pack("<d", value) == struct.pack("<Q", _STALE_BITS)


@dataclass(frozen=True, slots=True)
class SeriesData:
    """One series' samples in a time range, oldest first, stale markers included."""

    labels: Labels
    timestamps: Sequence[int]
    values: Sequence[float]


class Queryable(Protocol):
    """What the evaluator reads."""

    def select(
        self, matchers: Sequence[LabelMatcher], start_ms: int, end_ms: int
    ) -> Iterable[SeriesData]:
        """Every series matching all ``matchers`` with its samples in ``[start_ms, end_ms]``.

        A series with no sample in the range may be left out. Matchers are ANDed; at least
        one of them does not match the empty string (the evaluator enforces PromQL's rule).
        """
        ...


class Appender(Protocol):
    """What writers (scraper, probe results, rules, guard events) call."""

    def append(self, labels: Labels, t_ms: int, value: float) -> None:
        """Add one sample; out-of-order and duplicate-timestamp samples are dropped."""
        ...
