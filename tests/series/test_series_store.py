"""The compact store answers exactly as the reference ListStorage, within its bounds."""

from __future__ import annotations

import math
import random
import struct
import tracemalloc

from hypothesis import given, settings
from hypothesis import strategies as st

from tradewarden.series import STALE_NAN, LabelMatcher, Labels, ListStorage, MatchOp, is_stale
from tradewarden.series._store import NOTIFY_SERIES_MAX, SeriesStore

NAMES = ["up", "http_requests_total", "probe_success"]
JOBS = ["api", "bot", "db"]
INSTANCES = ["a:1", "b:2", "c:3", ""]


def _labels(name: str, job: str, instance: str) -> Labels:
    return Labels.of(__name__=name, job=job, instance=instance)


labels_strategy = st.builds(
    _labels, st.sampled_from(NAMES), st.sampled_from(JOBS), st.sampled_from(INSTANCES)
)
value_strategy = st.one_of(
    st.floats(allow_nan=False, allow_infinity=True, width=64),
    st.just(STALE_NAN),
    st.just(math.nan),
)
sample_strategy = st.tuples(labels_strategy, st.integers(0, 2_000_000), value_strategy)
matcher_strategy = st.builds(
    LabelMatcher,
    st.sampled_from(["__name__", "job", "instance", "missing"]),
    st.sampled_from(list(MatchOp)),
    st.sampled_from(["up", "api", "a:1", "", ".*", "b.*|c:3", "probe_.+", "x"]),
)


def _bits(values: object) -> list[bytes]:
    return [struct.pack("<d", v) for v in values]  # type: ignore[attr-defined]


def _as_dict(selected: object) -> dict[Labels, tuple[list[int], list[bytes]]]:
    return {
        s.labels: (list(s.timestamps), _bits(s.values))
        for s in selected  # type: ignore[attr-defined]
    }


@settings(max_examples=150, deadline=None)
@given(
    samples=st.lists(sample_strategy, max_size=400),
    matchers=st.lists(matcher_strategy, min_size=1, max_size=3),
    window=st.tuples(st.integers(-10, 2_000_010), st.integers(0, 2_000_010)),
)
def test_selects_like_the_reference(
    samples: list[tuple[Labels, int, float]],
    matchers: list[LabelMatcher],
    window: tuple[int, int],
) -> None:
    # Sorted per series mostly, with some disorder, so chunks get sealed.
    samples = sorted(samples, key=lambda s: s[1]) + samples[: len(samples) // 10]
    reference = ListStorage()
    store = SeriesStore(retention_ms=10**12)
    for labels, t, v in samples:
        reference.append(labels, t, v)
    store.append_many(samples)
    start, end = window
    assert _as_dict(store.select(matchers, start, end)) == _as_dict(
        reference.select(matchers, start, end)
    )


def test_chunks_round_trip_stale_markers_and_big_gaps() -> None:
    store = SeriesStore(retention_ms=10**13)
    labels = Labels.of(__name__="m")
    times = [i * 1000 for i in range(300)] + [10**12 + i for i in range(10)]
    for i, t in enumerate(times):
        store.append(labels, t, STALE_NAN if i % 7 == 0 else i * 0.5)
    (got,) = store.select([LabelMatcher("__name__", MatchOp.EQUAL, "m")], 0, 10**13)
    assert list(got.timestamps) == times
    for i, v in enumerate(got.values):
        assert is_stale(v) if i % 7 == 0 else v == i * 0.5


def test_out_of_order_and_duplicates_are_dropped_and_counted() -> None:
    store = SeriesStore()
    labels = Labels.of(__name__="m")
    store.append(labels, 1000, 1.0)
    store.append(labels, 1000, 2.0)
    store.append(labels, 500, 3.0)
    stats = store.stats()
    assert (stats.samples, stats.duplicates, stats.out_of_order) == (1, 1, 1)


def test_subscribers_hear_each_batch_once() -> None:
    store = SeriesStore()
    heard: list[frozenset[str]] = []
    unsubscribe = store.subscribe(heard.append)
    store.append_many([(Labels.of(__name__="a"), 1, 1.0), (Labels.of(__name__="b", x="1"), 1, 1.0)])
    store.append(Labels.of(__name__="c"), 1, 1.0)
    with store.batch():
        store.append(Labels.of(__name__="a"), 2, 1.0)
        store.append(Labels.of(__name__="a"), 1, 1.0)  # dropped: no news of it
    store.append(Labels.of(__name__="c"), 1, 1.0)  # dropped: nothing to tell
    unsubscribe()
    store.append(Labels.of(__name__="d"), 1, 1.0)
    assert heard == [frozenset({"a", "b"}), frozenset({"c"}), frozenset({"a"})]


def test_series_subscribers_hear_the_label_sets_up_to_a_bound() -> None:
    store = SeriesStore()
    heard: list[tuple[frozenset[str], frozenset[Labels] | None]] = []
    store.subscribe(lambda names, series: heard.append((names, series)), series=True)
    a, b = Labels.of(__name__="a"), Labels.of(__name__="b", x="1")
    store.append_many([(a, 1, 1.0), (b, 1, 1.0), (b, 2, 1.0)])
    scrape = [(Labels.of(__name__="m", i=str(i)), 1, 1.0) for i in range(NOTIFY_SERIES_MAX + 1)]
    store.append_many(scrape)  # a scrape: too many to list
    store.append(a, 2, 1.0)
    assert heard == [
        (frozenset({"a", "b"}), frozenset({a, b})),
        (frozenset({"m"}), None),
        (frozenset({"a"}), frozenset({a})),
    ]


def test_a_failing_subscriber_does_not_stop_the_others() -> None:
    store = SeriesStore()
    heard: list[frozenset[str]] = []

    def broken(names: frozenset[str]) -> None:
        raise RuntimeError("boom")

    store.subscribe(broken)
    store.subscribe(heard.append)
    store.append(Labels.of(__name__="a"), 1, 1.0)
    assert heard == [frozenset({"a"})]


def test_retention_truncates_chunks_and_drops_silent_series() -> None:
    store = SeriesStore(retention_ms=60_000)
    busy, quiet = Labels.of(__name__="busy"), Labels.of(__name__="quiet")
    store.append(quiet, 0, 1.0)
    for t in range(0, 600_000, 1000):
        store.append(busy, t, 1.0)
    store.truncate(600_000)
    assert store.series_labels([LabelMatcher("__name__", MatchOp.NOT_EQUAL, "")]) == [busy]
    (got,) = store.select([LabelMatcher("__name__", MatchOp.EQUAL, "busy")], 0, 10**9)
    # Whole chunks go: what is left starts at most one chunk before the cutoff.
    assert 540_000 - 120_000 <= got.timestamps[0] <= 540_000
    assert store.stats().samples == len(got.timestamps)


def test_budget_drops_oldest_data_and_refuses_new_series() -> None:
    store = SeriesStore(max_bytes=200_000, retention_ms=10**12)
    rng = random.Random(1)
    for t in range(2000):
        for i in range(20):
            store.append(Labels.of(__name__="m", i=str(i)), t * 1000, rng.random())
    assert store.stats().bytes <= 200_000
    assert store.stats().dropped_chunks > 0
    (got,) = store.select(
        [LabelMatcher("__name__", MatchOp.EQUAL, "m"), LabelMatcher("i", MatchOp.EQUAL, "0")],
        0,
        10**9,
    )
    assert got.timestamps[-1] == 1_999_000
    assert got.timestamps[0] > 0
    # Fill up with series, each too small to hold a sealed chunk that could be dropped.
    for i in range(5000):
        store.append(Labels.of(__name__="n", i=str(i)), 1, 1.0)
    stats = store.stats()
    assert stats.refused_series > 0
    assert stats.bytes <= 200_000 + 5000  # at most a head's growth past the budget


def realistic_values(series: int, samples_per_series: int) -> list[list[float]]:
    """A scrape-like mix: constant gauges (up), counters, jittery gauges, slow buckets."""
    rng = random.Random(42)
    rounds: list[list[float]] = []
    counters = [0.0] * series
    for _ in range(samples_per_series):
        row = []
        for i in range(series):
            kind = i % 4
            if kind == 0:
                value = 1.0
            elif kind == 1:
                counters[i] += rng.randint(0, 20)
                value = counters[i]
            elif kind == 2:
                value = float(50_000_000 + rng.randint(0, 4096) * 4096)
            else:
                counters[i] += rng.randint(0, 3)
                value = counters[i]
            row.append(value)
        rounds.append(row)
    return rounds


def realistic_labels(series: int) -> list[Labels]:
    """Label sets as a scrape makes them (fresh strings for every series)."""
    names = ("up", "http_requests_total", "process_resident_memory_bytes", "rpc_bucket")
    return [
        Labels.of(
            __name__=names[i % 4], job=f"job{i % 10}", instance=f"host{i % 50}:9100", id=f"{i}"
        )
        for i in range(series)
    ]


def test_bytes_per_sample_measured_is_at_most_20() -> None:
    series, per_series = 400, 1440  # 2 h at a 5 s scrape interval
    rounds = realistic_values(series, per_series)
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    store = SeriesStore(retention_ms=10**12)
    labels = realistic_labels(series)  # counted: the store keeps them
    for n, row in enumerate(rounds):
        t = 1_700_000_000_000 + n * 5000 + (n * 37) % 11  # a little jitter
        store.append_many(zip(labels, [t] * series, row, strict=True))
    del labels
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    measured = (after - before) / (series * per_series)
    stats = store.stats()
    print(
        f"\nseries store: {series} series x {per_series} samples: measured "
        f"{measured:.2f} bytes/sample (tracemalloc, labels and index included), "
        f"estimated {stats.bytes_per_sample:.2f}"
    )
    assert stats.samples == series * per_series
    assert measured <= 20
    # The budget's estimate stays close to what the memory really is.
    assert 0.75 * measured <= stats.bytes_per_sample <= 1.25 * measured


def test_over_budget_without_chunks_to_drop_stays_cheap_and_bounded() -> None:
    store = SeriesStore(max_bytes=100_000)
    for i in range(2000):
        store.append(Labels.of(__name__="n", i=str(i)), 1, 1.0)
    refused = store.stats().refused_series
    assert refused > 0
    # The series it holds go on taking samples; none is lost to the budget.
    held = store.stats().series
    for t in range(2, 50):
        for i in range(held):
            store.append(Labels.of(__name__="n", i=str(i)), t, float(t))
    assert store.stats().series == held
    assert store.stats().samples == held * 49


def test_a_regex_of_literal_alternatives_is_looked_up() -> None:
    store = SeriesStore()
    for job in ("api", "bot", "db", "a.i"):
        store.append(Labels.of(__name__="up", job=job), 1, 1.0)
    selected = store.select([LabelMatcher("job", MatchOp.REGEX, "api|db|nope")], 0, 10)
    assert sorted(s.labels.get("job") for s in selected) == ["api", "db"]
    dotted = store.select([LabelMatcher("job", MatchOp.REGEX, "a.i")], 0, 10)
    assert sorted(s.labels.get("job") for s in dotted) == ["a.i", "api"]
