"""The in-memory series store: compact chunks, a label index, retention and a memory budget.

    store.append(labels, t_ms, value)            # one sample (notifies at once)
    store.append_many([(labels, t_ms, value)])   # a scrape's batch (one notification)
    with store.batch(): ...                      # several appends, one notification
    store.select(matchers, start_ms, end_ms)     # Queryable
    store.subscribe(callback)                    # callback(frozenset of metric names)
    store.subscribe(callback, series=True)       # callback(names, the series or None)
    store.truncate(now_ms)                       # retention and budget

Samples older than or equal to a series' newest are dropped and counted. A series keeps its
newest 120 to 240 samples raw (two arrays, 16 bytes a sample) and the older ones in sealed,
compressed chunks of 120 (see ``_chunks.py``). When the
estimated memory passes ``max_bytes``, the oldest sealed chunks of every series go first
(down to 90 % of the budget), and while it stays over, new series are refused and counted:
the store never grows without bound. Everything runs on the caller's thread; the snapshot
reads it through :meth:`SeriesStore.export_series` on the same thread.
"""

from __future__ import annotations

import heapq
import logging
import sys
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal, overload

from tradewarden.series._chunks import (
    CHUNK_SAMPLES,
    SealedChunk,
    chunk_count,
    chunk_first_t,
    chunk_last_t,
    chunk_nbytes,
    decode_chunk,
    encode_chunk,
    window,
)
from tradewarden.series._index import Postings
from tradewarden.series._labels import LabelMatcher, Labels
from tradewarden.series._ports import SeriesData

__all__ = ["SeriesStats", "SeriesStore", "StoredSeries"]

_log = logging.getLogger("tradewarden.series")

DEFAULT_RETENTION_MS = 2 * 3600 * 1000
DEFAULT_MAX_BYTES = 256 * 1024 * 1024
# A series' fixed cost besides its samples: the object, its labels (tuple of pairs) and
# its entries in the index and the lookup dicts (measured with tracemalloc, rounded up).
_SERIES_OVERHEAD = 1150
_PAIR_OVERHEAD = sys.getsizeof(("", "")) + 40

Listener = Callable[[frozenset[str]], None]
# With the label sets appended in the batch, or None when there were more than
# NOTIFY_SERIES_MAX (a scrape): then only the names say what is new.
SeriesListener = Callable[[frozenset[str], frozenset[Labels] | None], None]
NOTIFY_SERIES_MAX = 256


class _Series:
    __slots__ = ("chunks", "head_t", "head_v", "id", "labels", "last_t", "name", "nbytes")

    def __init__(self, series_id: int, labels: Labels) -> None:
        self.id = series_id
        self.labels = labels
        self.name = labels.metric_name
        self.chunks: list[SealedChunk] = []
        self.head_t: array[int] = array("q")
        self.head_v: array[float] = array("d")
        self.last_t = -(2**63)
        self.nbytes = _SERIES_OVERHEAD + _PAIR_OVERHEAD * len(labels)

    def head_bytes(self) -> int:
        return (self.head_t.buffer_info()[1] + self.head_v.buffer_info()[1]) * 8

    def first_t(self) -> int | None:
        if self.chunks:
            return chunk_first_t(self.chunks[0])
        return self.head_t[0] if self.head_t else None


@dataclass(frozen=True, slots=True)
class SeriesStats:
    """What the store holds and what it has refused."""

    series: int
    samples: int
    bytes: int
    bytes_per_sample: float
    out_of_order: int
    duplicates: int
    refused_series: int
    dropped_chunks: int


@dataclass(frozen=True, slots=True)
class StoredSeries:
    """One series as the snapshot writes it: immutable chunks and a copy of the head."""

    labels: Labels
    chunks: tuple[SealedChunk, ...]
    head_t: bytes
    head_v: bytes


class SeriesStore:
    """The warden's series: implements ``Queryable`` and ``Appender``."""

    def __init__(
        self,
        *,
        retention_ms: int = DEFAULT_RETENTION_MS,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        if retention_ms <= 0:
            raise ValueError("retention_ms must be positive")
        if max_bytes <= 0:
            raise ValueError("max_bytes must be positive")
        self.retention_ms = retention_ms
        self.max_bytes = max_bytes
        self._by_labels: dict[Labels, _Series] = {}
        self._by_id: dict[int, _Series] = {}
        self._index = Postings()
        self._next_id = 0
        self._bytes = 0
        self._samples = 0
        self._out_of_order = 0
        self._duplicates = 0
        self._refused = 0
        self._dropped_chunks = 0
        self._sealed = 0  # sealed chunks held: what the budget can drop
        self._listeners: list[tuple[Callable[..., None], bool]] = []
        self._pending: set[str] = set()
        self._pending_series: set[Labels] | None = set()
        self._batch_depth = 0

    # -- writing -----------------------------------------------------------------------

    def append(self, labels: Labels, t_ms: int, value: float) -> None:
        """Add one sample; out of order and duplicate timestamps are dropped and counted.

        Outside :meth:`batch` the subscribers hear of it at once.
        """
        if self._add(labels, t_ms, value) and self._batch_depth == 0:
            self.commit()

    def append_many(self, samples: Iterable[tuple[Labels, int, float]]) -> int:
        """Add a batch of samples, then notify once; return how many were stored."""
        stored = 0
        with self.batch():
            for labels, t_ms, value in samples:
                stored += self._add(labels, t_ms, value)
        return stored

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Defer notifications to the end of the block (blocks nest)."""
        self._batch_depth += 1
        try:
            yield
        finally:
            self._batch_depth -= 1
            if self._batch_depth == 0:
                self.commit()

    def commit(self) -> None:
        """Tell every subscriber which metric names (and series) were appended since the
        last call."""
        if not self._pending:
            return
        names = frozenset(self._pending)
        pending_series = self._pending_series
        series = None if pending_series is None else frozenset(pending_series)
        self._pending.clear()
        self._pending_series = set()
        for listener, with_series in list(self._listeners):
            try:
                if with_series:
                    listener(names, series)
                else:
                    listener(names)
            except Exception:  # noqa: BLE001 - one broken subscriber must not starve the rest
                _log.exception("a series store subscriber failed")

    @overload
    def subscribe(
        self, listener: Listener, *, series: Literal[False] = False
    ) -> Callable[[], None]: ...

    @overload
    def subscribe(
        self, listener: SeriesListener, *, series: Literal[True]
    ) -> Callable[[], None]: ...

    def subscribe(
        self, listener: Callable[..., None], *, series: bool = False
    ) -> Callable[[], None]:
        """Call ``listener(names)`` after each batch (``listener(names, series)`` with
        ``series``); return a function that unsubscribes."""
        entry = (listener, series)
        self._listeners.append(entry)

        def unsubscribe() -> None:
            if entry in self._listeners:
                self._listeners.remove(entry)

        return unsubscribe

    def _add(self, labels: Labels, t_ms: int, value: float) -> bool:
        series = self._by_labels.get(labels)
        if series is None:
            series = self._create(labels)
            if series is None:
                return False
        if t_ms <= series.last_t:
            if t_ms == series.last_t:
                self._duplicates += 1
            else:
                self._out_of_order += 1
            return False
        before = series.head_bytes()
        series.head_t.append(t_ms)
        series.head_v.append(value)
        series.last_t = t_ms
        self._samples += 1
        if len(series.head_t) >= 2 * CHUNK_SAMPLES:
            # Seal the older half: the newest CHUNK_SAMPLES stay raw, so the queries rules
            # make (the last few minutes) never decompress.
            chunk = encode_chunk(series.head_t[:CHUNK_SAMPLES], series.head_v[:CHUNK_SAMPLES])
            series.chunks.append(chunk)
            # In place: no new objects for the garbage collector to count as long-lived.
            del series.head_t[:CHUNK_SAMPLES]
            del series.head_v[:CHUNK_SAMPLES]
            series.nbytes += chunk_nbytes(chunk)
            self._bytes += chunk_nbytes(chunk)
            self._sealed += 1
        self._bytes += series.head_bytes() - before
        if self._bytes > self.max_bytes:
            self._enforce_budget()
        self._pending.add(series.name)
        pending = self._pending_series
        if pending is not None:
            if len(pending) < NOTIFY_SERIES_MAX:
                pending.add(series.labels)
            elif series.labels not in pending:
                self._pending_series = None  # too many to list: the names only
        return True

    def _create(self, labels: Labels) -> _Series | None:
        if self._bytes > self.max_bytes:
            self._enforce_budget()
            if self._bytes > self.max_bytes:
                self._refused += 1
                return None
        series = _Series(self._next_id, labels)
        self._next_id += 1
        self._by_labels[labels] = series
        self._by_id[series.id] = series
        self._index.add(series.id, labels)
        self._bytes += series.nbytes
        return series

    # -- reading -----------------------------------------------------------------------

    def select(
        self, matchers: Sequence[LabelMatcher], start_ms: int, end_ms: int
    ) -> Iterator[SeriesData]:
        """See :class:`tradewarden.series.Queryable`."""
        for series_id in sorted(self._index.resolve(matchers)):
            series = self._by_id[series_id]
            if series.last_t < start_ms:
                continue
            timestamps, values = _samples_in(series, start_ms, end_ms)
            if timestamps:
                yield SeriesData(series.labels, timestamps, values)

    def label_names(self) -> list[str]:
        """Every label name in the store, sorted."""
        return self._index.label_names()

    def label_values(self, name: str) -> list[str]:
        """Every value of label ``name`` in the store, sorted."""
        return self._index.label_values(name)

    def series_labels(self, matchers: Sequence[LabelMatcher]) -> list[Labels]:
        """The label sets of the series matching ``matchers``."""
        return [self._by_id[i].labels for i in sorted(self._index.resolve(matchers))]

    def __len__(self) -> int:
        return len(self._by_id)

    def stats(self) -> SeriesStats:
        """Series, samples and the memory they take (the budget's estimate)."""
        samples = self._samples
        return SeriesStats(
            series=len(self._by_id),
            samples=samples,
            bytes=self._bytes,
            bytes_per_sample=self._bytes / samples if samples else 0.0,
            out_of_order=self._out_of_order,
            duplicates=self._duplicates,
            refused_series=self._refused,
            dropped_chunks=self._dropped_chunks,
        )

    # -- housekeeping ------------------------------------------------------------------

    def truncate(self, now_ms: int) -> None:
        """Drop chunks older than the retention and series with no sample inside it."""
        cutoff = now_ms - self.retention_ms
        for series in list(self._by_id.values()):
            if series.last_t < cutoff:
                self._drop_series(series)
                continue
            while series.chunks and chunk_last_t(series.chunks[0]) < cutoff:
                self._drop_chunk(series)
        self._enforce_budget()

    def _drop_chunk(self, series: _Series) -> None:
        chunk = series.chunks.pop(0)
        series.nbytes -= chunk_nbytes(chunk)
        self._bytes -= chunk_nbytes(chunk)
        self._samples -= chunk_count(chunk)
        self._dropped_chunks += 1
        self._sealed -= 1

    def _drop_series(self, series: _Series) -> None:
        del self._by_labels[series.labels]
        del self._by_id[series.id]
        self._index.remove(series.id, series.labels)
        self._samples -= sum(map(chunk_count, series.chunks)) + len(series.head_t)
        self._bytes -= series.nbytes + series.head_bytes()
        self._sealed -= len(series.chunks)

    def _enforce_budget(self) -> None:
        """Drop the oldest sealed chunks, store-wide, until 90 % of the budget is left."""
        if self._bytes <= self.max_bytes or not self._sealed:
            return  # nothing over, or nothing to drop (then new series are refused)
        target = self.max_bytes * 9 // 10
        oldest = [(chunk_first_t(s.chunks[0]), s.id) for s in self._by_id.values() if s.chunks]
        heapq.heapify(oldest)
        while self._bytes > target and oldest:
            _, series_id = heapq.heappop(oldest)
            series = self._by_id[series_id]
            self._drop_chunk(series)
            if series.chunks:
                heapq.heappush(oldest, (chunk_first_t(series.chunks[0]), series_id))

    # -- snapshot ----------------------------------------------------------------------

    def export_series(self, batch: int = 2000) -> Iterator[list[StoredSeries]]:
        """Copies of every series, ``batch`` at a time: the caller may yield to the event
        loop between batches (chunks are immutable, heads are copied, so each series is
        consistent; the set is the one at the first call)."""
        everything = list(self._by_id.values())
        for first in range(0, len(everything), batch):
            yield [
                StoredSeries(s.labels, tuple(s.chunks), s.head_t.tobytes(), s.head_v.tobytes())
                for s in everything[first : first + batch]
            ]

    def import_series(self, stored: Iterable[StoredSeries]) -> None:
        """Load series from a snapshot into an empty store (notifies nobody)."""
        for item in stored:
            series = self._by_labels.get(item.labels) or self._create(item.labels)
            if series is None or series.last_t != -(2**63):
                continue
            series.chunks = list(item.chunks)
            series.head_t = array("q")
            series.head_t.frombytes(item.head_t)
            series.head_v = array("d")
            series.head_v.frombytes(item.head_v)
            if series.head_t:
                series.last_t = series.head_t[-1]
            elif series.chunks:
                series.last_t = chunk_last_t(series.chunks[-1])
            added = sum(map(chunk_nbytes, series.chunks))
            self._sealed += len(series.chunks)
            series.nbytes += added
            self._bytes += added + series.head_bytes()
            self._samples += sum(map(chunk_count, series.chunks)) + len(series.head_t)
        self._enforce_budget()


def _samples_in(series: _Series, start_ms: int, end_ms: int) -> tuple[array[int], array[float]]:
    chunks = series.chunks
    if not chunks or chunk_last_t(chunks[-1]) < start_ms:
        # The common case (the last minutes): only the raw head; slicing copies it.
        return window(series.head_t, series.head_v, start_ms, end_ms)
    timestamps: array[int] = array("q")
    values: array[float] = array("d")
    for chunk in series.chunks:
        if chunk_last_t(chunk) < start_ms:
            continue
        if chunk_first_t(chunk) > end_ms:
            return timestamps, values
        ts, vs = window(*decode_chunk(chunk), start_ms, end_ms)
        timestamps.extend(ts)
        values.extend(vs)
    if series.head_t and series.head_t[0] <= end_ms:
        ts, vs = window(series.head_t, series.head_v, start_ms, end_ms)
        timestamps.extend(ts)
        values.extend(vs)
    return timestamps, values
