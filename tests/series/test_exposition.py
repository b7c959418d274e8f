"""Text format and OpenMetrics parsing: every sample line a series, errors name the line."""

from __future__ import annotations

import math
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Summary, generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics

from tradewarden.series import Labels
from tradewarden.series._exposition import ExpositionError, ScrapeCache, parse_exposition
from tradewarden.series._store import SeriesStore

MSDOS = (
    r'msdos_file_access_time_seconds{path="C:\\DIR\\FILE.TXT",'
    r'error="Cannot find file:\n\"FILE.TXT\""} 1.458255915e9'
)
TEXT = (
    r"""# HELP http_requests_total Requests.
# TYPE http_requests_total counter
http_requests_total{method="get",code="200"} 1027 1395066363000
http_requests_total{method="post",code="400"}    3 1395066363000
# A comment the text format allows.
"""
    + MSDOS
    + r"""

metric_without_timestamp_and_labels 12.47
something_weird{problem="division by zero"} +Inf -3982045
# TYPE rpc_duration_seconds summary
rpc_duration_seconds{quantile="0.5"} 4773
rpc_duration_seconds_sum 1.7560473e+07
rpc_duration_seconds_count 2693
nan_value NaN
"""
)


def _by_name(text: str, *, openmetrics: bool = False) -> dict[Labels, tuple[float, int | None]]:
    parsed = parse_exposition(text, openmetrics=openmetrics)
    return {labels: (v, t) for labels, v, t in parsed.samples}


def test_the_text_format_example_parses() -> None:
    got = _by_name(TEXT)
    assert got[Labels.of(__name__="http_requests_total", method="get", code="200")] == (
        1027.0,
        1395066363000,
    )
    path = Labels.of(
        __name__="msdos_file_access_time_seconds",
        path="C:\\DIR\\FILE.TXT",
        error='Cannot find file:\n"FILE.TXT"',
    )
    assert got[path] == (1.458255915e9, None)
    assert got[Labels.of(__name__="something_weird", problem="division by zero")] == (
        math.inf,
        -3982045,
    )
    assert got[Labels.of(__name__="rpc_duration_seconds", quantile="0.5")] == (4773.0, None)
    assert math.isnan(got[Labels.of(__name__="nan_value")][0])
    assert len(got) == 9
    assert parse_exposition(TEXT).types == {
        "http_requests_total": "counter",
        "rpc_duration_seconds": "summary",
    }


def _registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    Counter("jobs", "Jobs.", ["queue"], registry=registry).labels("a").inc(3)
    Gauge("temperature", "T.", registry=registry).set(21.5)
    Histogram("latency_seconds", "L.", buckets=(0.1, 1), registry=registry).observe(0.5)
    Summary("size_bytes", "S.", registry=registry).observe(10)
    return registry


def test_prometheus_client_output_parses_in_both_formats() -> None:
    registry = _registry()
    text = _by_name(generate_latest(registry).decode())
    om = _by_name(generate_openmetrics(registry).decode(), openmetrics=True)  # type: ignore[no-untyped-call]
    for got in (text, om):
        assert got[Labels.of(__name__="jobs_total", queue="a")][0] == 3.0
        assert got[Labels.of(__name__="latency_seconds_bucket", le="1.0")][0] == 1.0
        assert got[Labels.of(__name__="latency_seconds_bucket", le="+Inf")][0] == 1.0
        assert got[Labels.of(__name__="size_bytes_sum")][0] == 10.0
        assert got[Labels.of(__name__="temperature")][0] == 21.5


def test_openmetrics_timestamps_are_seconds_and_exemplars_are_skipped() -> None:
    text = (
        '# TYPE a counter\na_total{x="1"} 5 1700000000.5 # {trace_id="abc"} 1 1700000000\n# EOF\n'
    )
    assert _by_name(text, openmetrics=True) == {
        Labels.of(__name__="a_total", x="1"): (5.0, 1_700_000_000_500)
    }


@pytest.mark.parametrize(
    ("text", "openmetrics", "expected"),
    [
        ("a 1\nthis is garbage\n", False, "line 2: invalid value"),
        ("a 1\nb{x=1} 2\n", False, "line 2: invalid label"),
        ("a 1 2 3\n", False, "line 1: expected a value and an optional timestamp"),
        ("a 1_000\n", False, "line 1: invalid value"),
        ("a one\n", False, "line 1: invalid value"),
        ("a 1 12.5\n", False, "line 1: invalid timestamp"),
        ('a{x="1",x="2"} 1\n', False, "line 1: a label name appears twice"),
        ("# TYPE a colour\na 1\n", False, "line 1: unknown metric type"),
        ("<html><body>hi</body></html>\n", False, "line 1: invalid metric name"),
        ("a 1\n", True, "line 2: missing # EOF"),
        ("a 1\n# EOF\nb 2\n", True, "line 3: content after # EOF"),
        ('a{x="1"} 1\nb 1\na{x="1"} 2\n', False, "line 3: duplicate series"),
    ],
)
def test_bad_input_names_the_line(text: str, openmetrics: bool, expected: str) -> None:
    with pytest.raises(ExpositionError) as caught:
        parse_exposition(text, openmetrics=openmetrics)
    assert str(caught.value).startswith(expected), str(caught.value)


def test_duplicates_are_judged_after_relabelling() -> None:
    text = 'a{job="x"} 1\na{exported_job="x"} 2\n'

    def relabel(labels: Labels) -> Labels:
        return labels.set("exported_job", labels.get("job") or labels.get("exported_job"))

    with pytest.raises(ExpositionError, match="line 2: duplicate series"):
        parse_exposition(text, relabel=lambda labels: relabel(labels).without(["job"]))


def test_the_cache_gives_the_same_answer_and_ingestion_rate() -> None:
    lines = ["# TYPE m gauge"]
    lines += [
        f'm{{job="a",instance="host{i % 100}:9100",idx="{i}"}} {i * 1.5}' for i in range(10_000)
    ]
    text = "\n".join(lines) + "\n"
    cache = ScrapeCache()
    store = SeriesStore()
    first = parse_exposition(text, cache=cache).samples
    timings = []
    for n in range(5):  # parse + append, as a scrape of one 10k-series target does
        began = time.perf_counter()
        samples = parse_exposition(text, cache=cache).samples
        store.append_many((labels, 1_000 * (n + 1), value) for labels, value, _ in samples)
        timings.append(time.perf_counter() - began)
        assert samples == first
    assert store.stats().samples == 50_000
    print(f"\nscrape ingestion (parse + append, 10k lines): {10_000 / min(timings):,.0f} samples/s")


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


_names = st.from_regex(r"[a-zA-Z_:][a-zA-Z0-9_:]{0,12}", fullmatch=True)
_label_names = st.from_regex(r"[a-zA-Z][a-zA-Z0-9_]{0,8}", fullmatch=True)
_label_values = st.text(alphabet='abn }{#"\\\n\t,=é', min_size=1, max_size=8)
_series = st.tuples(
    _names,
    st.dictionaries(_label_names, _label_values, max_size=3),
    st.floats(allow_nan=False, width=64),
    st.one_of(st.none(), st.integers(-(2**40), 2**42)),
)


@settings(max_examples=200, deadline=None)
@given(lines=st.lists(_series, max_size=20), openmetrics=st.booleans())
def test_what_is_written_is_read_back(
    lines: list[tuple[str, dict[str, str], float, int | None]], openmetrics: bool
) -> None:
    expected: dict[Labels, tuple[float, int | None]] = {}
    text = []
    for name, labels, value, stamp in lines:
        key = Labels.of(labels, __name__=name)
        if key in expected:
            continue
        body = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
        series = f"{name}{{{body}}}" if labels or stamp is None else name
        if stamp is None:
            text.append(f"{series} {value!r}")
        elif openmetrics:
            text.append(f"{series} {value!r} {stamp / 1000!r}")
        else:
            text.append(f"{series} {value!r} {stamp}")
        expected[key] = (value, stamp)
    document = "".join(f"{line}\n" for line in text) + ("# EOF\n" if openmetrics else "")
    got = {
        labels: (value, stamp)
        for labels, value, stamp in parse_exposition(document, openmetrics=openmetrics).samples
    }
    assert got.keys() == expected.keys()
    for key, (value, stamp) in expected.items():
        assert got[key][0] == value
        if openmetrics and stamp is not None:
            assert got[key][1] == round(stamp / 1000 * 1000)
        else:
            assert got[key][1] == stamp
