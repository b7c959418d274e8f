"""Alertmanager's matcher syntax, time intervals, severities and the fingerprint."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from tradewarden.alerting import (
    MatcherError,
    TimeInterval,
    fingerprint,
    format_matchers,
    parse_matchers,
    severity_of,
)
from tradewarden.notify import Severity
from tradewarden.series import LabelMatcher, Labels, MatchOp


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{foo="bar"}', [("foo", "=", "bar")]),
        ("foo=bar", [("foo", "=", "bar")]),
        ('foo!="bar", baz=~"a|b"', [("foo", "!=", "bar"), ("baz", "=~", "a|b")]),
        ('{ a !~ "x,y" , b="" }', [("a", "!~", "x,y"), ("b", "=", "")]),
        ('a="say \\"hi\\""', [("a", "=", 'say "hi"')]),
        ('a="line\\nbreak\\\\"', [("a", "=", "line\nbreak\\")]),
        ('a="\\d"', [("a", "=", "\\d")]),  # a spurious escape stays literal
        ("a=x=y", [("a", "=", "x=y")]),
        ("", []),
    ],
)
def test_parse(text: str, expected: list[tuple[str, str, str]]) -> None:
    parsed = parse_matchers(text)
    assert [(m.name, m.op.value, m.value) for m in parsed] == expected
    assert parse_matchers(format_matchers(parsed)) == parsed


@pytest.mark.parametrize("text", ["=bar", "1a=b", 'a="b', 'a=b"c', "a", 'a=~"("', 'a==b"'])
def test_bad_matchers(text: str) -> None:
    with pytest.raises(MatcherError):
        parse_matchers(text)


def test_regexes_are_anchored_and_missing_labels_are_empty() -> None:
    (m,) = parse_matchers('a=~"b|c"')
    assert m.matches("b")
    assert not m.matches("bb")
    assert not m.matches("")
    assert LabelMatcher("x", MatchOp.EQUAL, "").matches(Labels.of(a="b").get("x"))


def test_fingerprint_is_alertmanagers() -> None:
    # Values from Prometheus's common/model labelset tests (FNV-1a 64, 0xff separators).
    assert fingerprint({}) == "cbf29ce484222325"
    assert fingerprint(Labels.of(foo="bar")) == fingerprint({"foo": "bar"})
    assert fingerprint({"a": "b", "c": "d"}) == fingerprint({"c": "d", "a": "b"})
    assert fingerprint({"a": "bc"}) != fingerprint({"ab": "c"})
    # prometheus/common model's LabelSet.Fingerprint cases (metric_test.go, signature_test.go).
    cases = [
        ({"x": "y"}, 8241431561484471700),
        (
            {"first_name": "electro", "occupation": "robot", "manufacturer": "westinghouse"},
            5911716720268894962,
        ),
        ({"a": "bb", "b": "c"}, 3016285359649981711),
        ({"a": "b", "bb": "c"}, 7122421792099404749),
        ({"name": "garland, briggs", "fear": "love is not enough"}, 5799056148416392346),
    ]
    for labels, expected in cases:
        assert fingerprint(labels) == f"{expected:016x}", labels
        assert fingerprint(Labels.of(labels)) == f"{expected:016x}", labels


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        ({"severity": "critical"}, Severity.P0),
        ({"severity": "CRITICAL"}, Severity.P0),
        ({"severity": "high"}, Severity.P1),
        ({"severity": "error"}, Severity.P1),
        ({"severity": "warning"}, Severity.P2),
        ({"severity": "info"}, Severity.P3),
        ({"severity": "P0"}, Severity.P0),
        ({"priority": "P1"}, Severity.P0),  # the seeds' P1-P4 scheme
        ({"priority": "P4"}, Severity.P3),
        ({"severity": "warning", "priority": "P1"}, Severity.P2),
        ({}, Severity.P2),
    ],
)
def test_severity(labels: dict[str, str], expected: Severity) -> None:
    assert severity_of(Labels.of(labels)) is expected


def _interval(spec: dict[str, object]) -> TimeInterval:
    return TimeInterval.model_validate({"name": "x", "time_intervals": [spec]})


def test_time_intervals() -> None:
    # 2026-12-01 is a Tuesday.
    tue_0830 = datetime(2026, 12, 1, 8, 30, tzinfo=UTC)
    office = _interval(
        {"times": [{"start_time": "09:00", "end_time": "17:00"}], "weekdays": ["monday:friday"]}
    )
    assert not office.contains(tue_0830)
    assert office.contains(tue_0830.replace(hour=9))
    assert not office.contains(tue_0830.replace(hour=17))  # the end is exclusive
    assert not office.contains(datetime(2026, 12, 5, 10, tzinfo=UTC))  # Saturday
    berlin = _interval(
        {"times": [{"start_time": "09:00", "end_time": "24:00"}], "location": "Europe/Berlin"}
    )
    assert berlin.contains(tue_0830)  # 09:30 in Berlin
    assert _interval({"weekdays": ["sunday:saturday"]}).contains(tue_0830)
    assert _interval({"days_of_month": ["-1"]}).contains(datetime(2026, 2, 28, tzinfo=UTC))
    assert not _interval({"days_of_month": ["-1"]}).contains(tue_0830)
    assert _interval({"days_of_month": ["1:5"], "months": ["december"]}).contains(tue_0830)
    assert not _interval({"months": ["1:3", "may:august"]}).contains(tue_0830)
    assert _interval({"years": ["2025:2027"]}).contains(tue_0830)


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"times": [{"start_time": "9:00", "end_time": "17:00"}]}, "start_time"),
        ({"times": [{"start_time": "09:00", "end_time": "25:00"}]}, "end_time"),
        ({"weekdays": ["funday"]}, "weekdays"),
        ({"weekdays": ["friday:monday"]}, "weekdays"),
        ({"days_of_month": ["0"]}, "days_of_month"),
        ({"months": ["13"]}, "months"),
        ({"location": "Mars/Base"}, "location"),
    ],
)
def test_bad_time_intervals_name_the_field(spec: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        _interval(spec)
    assert field in str(info.value)
