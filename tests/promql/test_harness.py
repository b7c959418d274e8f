"""The conformance harness's own parsing and comparison rules (``promqltest`` format)."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from tradewarden.promql import conformance
from tradewarden.promql._promqltest import parse_points
from tradewarden.promql.conformance import (
    almost_equal,
    main,
    parse_duration_ms,
    parse_series,
    run_file,
)
from tradewarden.series import Labels, is_stale


@pytest.mark.parametrize(
    ("text", "ms"),
    [("0", 0), ("5m", 300_000), ("1h30m", 5_400_000), ("10s53ms", 10_053), ("2d", 172_800_000)],
)
def test_durations(text: str, ms: int) -> None:
    assert parse_duration_ms(text) == ms


@pytest.mark.parametrize("text", ["", "5", "m5", "5x"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="not a valid duration"):
        parse_duration_ms(text)


def test_series_lines() -> None:
    labels, rest = parse_series('http_requests{job="api", path="/a\\"b"} 1+2x3 _ stale')
    assert labels == Labels.of(__name__="http_requests", job="api", path='/a"b')
    assert rest == "1+2x3 _ stale"
    labels, rest = parse_series("{\"utf8.name\", a='x'} 1")
    assert labels == Labels.of(__name__="utf8.name", a="x")
    assert rest == "1"


def test_the_expanding_notation() -> None:
    points = parse_points("1+2x3 5-1x2 7x1 _x2 _ stale -Inf 0x1")
    assert points[:11] == [1.0, 3.0, 5.0, 7.0, 5.0, 4.0, 3.0, 7.0, 7.0, None, None]
    assert points[11] is None
    assert points[12] is not None
    assert is_stale(points[12])
    assert points[13] == -math.inf
    assert points[14:] == [0.0, 0.0]  # "0x1" repeats 0 (not hex)


def test_almost_equal_follows_prometheus() -> None:
    assert almost_equal(math.nan, math.nan)
    assert almost_equal(1.0, 1.0 + 1e-9)
    assert not almost_equal(1.0, 1.001)
    assert almost_equal(0.0, 1e-320)
    assert not almost_equal(0.0, 1e-300)
    assert almost_equal(math.inf, math.inf)
    assert not almost_equal(math.inf, -math.inf)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mini.test"
    path.write_text(text, encoding="utf-8")
    return path


MINI = """
load 1m
  m{a="1"} 1+1x5
  m{a="2"} 10 _ 30
  h {{schema:0 sum:1 count:1}}

# passes
eval instant at 2m m
  m{a="1"} 3
  m{a="2"} 30

# fails: wrong value
eval instant at 2m m{a="1"}
  m{a="1"} 4

eval range from 0 to 2m step 1m m{a="2"}
  m{a="2"} 10 10 30

eval instant at 0m h

eval instant at 0m 1 +
  expect fail msg: invalid promql query

eval instant at 0m m{a="1"} offset 1m
  expect warn
"""


def test_a_file_is_counted_per_eval(tmp_path: Path) -> None:
    report = run_file(_write(tmp_path, MINI))
    assert (report.passed, report.failed, report.skipped) == (3, 2, 1)
    assert report.skip_reasons == {"selects native histograms": 1}
    lines = [f.line for f in report.failures]
    assert lines == [13, 24]
    assert 'expected 4.0 for m{a="1"} but got 3.0' in report.failures[0].message
    assert "expected warn annotations" in report.failures[1].message


def test_the_command_line_prints_per_file_numbers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["-v", str(_write(tmp_path, MINI))]) == 1
    out = capsys.readouterr().out
    assert 'mini.test:13: m{a="1"}' in out
    assert "mini.test: passed 3, failed 2, skipped 1 (selects native histograms: 1)" in out


def test_the_directory_comes_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TW_PROMQLTEST_DIR", str(tmp_path))
    assert conformance.default_dir() == tmp_path
    assert main([]) == 2
    assert "no .test files" in capsys.readouterr().err
    _write(tmp_path, "load 1m\n  x 1\n\neval instant at 0m x\n  x 1\n")
    assert main([]) == 0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("load 1m\n  m 1 zz\n", "line 1: bad value 'zz'"),
        ("bogus\n", "line 1: invalid command 'bogus'"),
        ("load 1m\n  m 1\n\neval instant at xx m\n", "line 4: not a valid duration string"),
    ],
)
def test_a_malformed_file_names_the_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ValueError, match=re.escape(f"{path}: {message}")):
        run_file(path)
    assert main([str(path)]) == 2
    assert message in capsys.readouterr().err
