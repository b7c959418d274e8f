"""Alert templates: Go text/template as Prometheus runs it (cases from Prometheus's own
``template/template_test.go`` where they apply to text templates)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradewarden.rules import (
    TemplateError,
    alert_template_data,
    check_template,
    expand_alert_template,
)
from tradewarden.rules._gofmt import go_float_e, go_value_string
from tradewarden.rules._template import expand_template
from tradewarden.series import Labels

METRIC_B = Labels.of(__name__="metric", instance="b")
METRIC_A = Labels.of(__name__="metric", instance="a")


def _query(results: Sequence[tuple[Labels, float]]) -> Any:
    def query(expr: str, t_ms: int) -> Sequence[tuple[Labels, float]]:
        del expr, t_ms
        return results

    return query


def expand(text: str, data: Any = None, results: Sequence[tuple[Labels, float]] = ()) -> str:
    return expand_template(text, "test", data, query=_query(results))


@pytest.mark.parametrize(
    ("text", "data", "output"),
    [
        ("plain text", None, "plain text"),
        ("{{ 1 }}", None, "1"),
        ('{{ "<b>" }}', None, "<b>"),
        ('{{ reReplaceAll "(a)b" "x$1" "ab" }}', None, "xa"),
        (
            "{{ range . }}{{ humanize . }}:{{ end }}",
            [0.0, 1.0, 1234567.0, 0.12],
            "0:1:1.235M:120m:",
        ),
        (
            "{{ range . }}{{ humanize . }}:{{ end }}",
            ["0.0", "1.0", "1234567.0", ".12"],
            "0:1:1.235M:120m:",
        ),
        (
            "{{ range . }}{{ humanize . }}:{{ end }}",
            [0, -1, 1, 1234567, 2**63 - 1],
            "0:-1:1:1.235M:9.223E:",
        ),
        (
            "{{ range . }}{{ humanize1024 . }}:{{ end }}",
            [0.0, 1.0, 1048576.0, 0.12],
            "0:1:1Mi:0.12:",
        ),
        (
            "{{ range . }}{{ humanize1024 . }}:{{ end }}",
            [0, -1, 1, 1234567, 2**63 - 1],
            "0:-1:1:1.177Mi:8Ei:",
        ),
        (
            "{{ range . }}{{ humanizeDuration . }}:{{ end }}",
            [
                0.0,
                1.0,
                60.0,
                3600.0,
                86400.0,
                86400.0 + 3600,
                -(86400.0 * 2 + 3600 * 3 + 60 * 4 + 5),
                899.99,
            ],
            "0s:1s:1m 0s:1h 0m 0s:1d 0h 0m 0s:1d 1h 0m 0s:-2d 3h 4m 5s:14m 59s:",
        ),
        (
            "{{ range . }}{{ humanizeDuration . }}:{{ end }}",
            [0.1, 0.0001, 0.12345, 60.1, 60.5, 1.2345, 12.345],
            "100ms:100us:123.5ms:1m 0s:1m 0s:1.234s:12.35s:",
        ),
        (
            "{{ range . }}{{ humanizeDuration . }}:{{ end }}",
            [0, -1, 1, 1234567],
            "0s:-1s:1s:14d 6h 56m 7s:",
        ),
        (
            (
                "{{ range . }}{{ humanize . }}:{{ humanize1024 . }}:{{ humanizeDuration . }}:"
                "{{humanizeTimestamp .}}:{{ end }}"
            ),
            [math.inf, -math.inf, math.nan],
            "+Inf:+Inf:+Inf:+Inf:-Inf:-Inf:-Inf:-Inf:NaN:NaN:NaN:NaN:",
        ),
        (
            (
                "{{ -0.22222 | humanizePercentage }}:{{ 0.0 | humanizePercentage }}:"
                "{{ 0.1234567 | humanizePercentage }}:{{ 1.23456 | humanizePercentage }}"
            ),
            None,
            "-22.22%:0%:12.35%:123.5%",
        ),
        (
            "{{ range . }}{{ humanizePercentage . }}:{{ end }}",
            [0, -1, 1, 1234567],
            "0%:-100%:100%:1.235e+08%:",
        ),
        (
            "{{ range . }}{{ humanizeTimestamp . }}:{{ end }}",
            [0, -1, 1, 1234567, 9223372036],
            (
                "1970-01-01 00:00:00 +0000 UTC:1969-12-31 23:59:59 +0000 UTC:"
                "1970-01-01 00:00:01 +0000 UTC:"
                "1970-01-15 06:56:07 +0000 UTC:2262-04-11 23:47:16 +0000 UTC:"
            ),
        ),
        ("{{ 1435065584.128 | humanizeTimestamp }}", None, "2015-06-23 13:19:44.128 +0000 UTC"),
        ('{{ "1435065584.128" | humanizeTimestamp }}', None, "2015-06-23 13:19:44.128 +0000 UTC"),
        ('{{ "aa bb CC" | title }}', None, "Aa Bb CC"),
        ('{{ "aa bb CC" | toUpper }}', None, "AA BB CC"),
        ('{{ "aA bB CC" | toLower }}', None, "aa bb cc"),
        ('{{ match "a+" "aa" }} {{ match "a+" "b" }}', None, "true false"),
        (
            '{{ printf "%.2f" 3.14159 }}|{{ printf "%s=%d" "n" 3 }}|{{ printf "%v" 1e6 }}',
            None,
            "3.14|n=3|1e+06",
        ),
        ('{{ printf "%5.1f|%-4s|%q" 2.25 "ab" "x" }}', None, '  2.2|ab  |"x"'),
        ('{{ printf "%d" 1.5 }}', None, "%!d(float64=1.5)"),
        ("{{ if gt 2.0 1.0 }}yes{{ else }}no{{ end }}", None, "yes"),
        ("{{ if lt 2.0 1.0 }}a{{ else if eq 2.0 2.0 }}b{{ else }}c{{ end }}", None, "b"),
        ("{{ with .x }}[{{ . }}]{{ else }}none{{ end }}", {"x": ""}, "none"),
        ("{{ with .x }}[{{ . }}]{{ end }}", {"x": "v"}, "[v]"),
        ("{{ range $i, $v := . }}{{ $i }}={{ $v }} {{ end }}", ["a", "b"], "0=a 1=b "),
        ("{{ range $k, $v := . }}{{ $k }}={{ $v }};{{ end }}", {"b": "2", "a": "1"}, "a=1;b=2;"),
        ("{{ range . }}{{ . }}{{ else }}empty{{ end }}", [], "empty"),
        ("{{ range . }}{{ if eq . 2 }}{{ break }}{{ end }}{{ . }}{{ end }}", [1, 2, 3], "1"),
        ("{{- 1 -}}  \n  {{- 2 }} x", None, "12 x"),
        ("a{{/* a comment */}}b", None, "ab"),
        ("{{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ end }}{{ $x }}", None, "2"),
        (
            '{{ and 1 0 }} {{ or 0 "" "z" }} {{ not true }} {{ len . }} {{ index . "a" }}',
            {"a": "A"},
            "0 z false 1 A",
        ),
        ('{{ print 1 2 "s" 3 }}', None, "1 2s3"),
        ("{{ .missing }}|", {"present": "x"}, "|"),
        (
            "{{ 0.00001 }} {{ 123456.0 }} {{ 1234567.0 }} {{ 0.5 }} {{ -2.0 }}",
            None,
            "1e-05 123456 1.234567e+06 0.5 -2",
        ),
        ('{{ "a" | printf "%s-%s" "b" }}', None, "b-a"),
        ("{{ `raw \\n` }}", None, "raw \\n"),
        ('{{ "foo.example.com:12345" | stripPort }}', None, "foo.example.com"),
        ('{{ "[2001:0DB8::1]:12345" | stripPort }}', None, "2001:0DB8::1"),
        ('{{ "2001:0DB8::1" | stripPort }}', None, "2001:0DB8::1"),
        ('{{ "[2001:0DB8::1]::12345" | stripPort }}', None, "[2001:0DB8::1]::12345"),
        ('{{ "192.0.2.1:12345" | stripPort }}', None, "192.0.2.1"),
        ('{{ "foo.example.com" | stripDomain }}', None, "foo"),
        ('{{ "foo.example.com:12345" | stripDomain }}', None, "foo:12345"),
        ('{{ "192.0.2.1:12345" | stripDomain }}', None, "192.0.2.1:12345"),
        ('{{ "[2001:0DB8::1]:12345" | stripDomain }}', None, "[2001:0DB8::1]:12345"),
        ('{{ "[2001:0DB8::1]::12345" | stripDomain }}', None, "[2001:0DB8::1]::12345"),
        (
            '{{ graphLink "up" }} {{ tableLink "rate(x[5m])" }}',
            None,
            "/graph?g0.expr=up&g0.tab=0 /graph?g0.expr=rate%28x%5B5m%5D%29&g0.tab=1",
        ),
        ('{{ printf "%0.2f" (parseDuration "1h2m10ms") }}', None, "3720.01"),
        ("{{ 1435065584.128 | toTime }}", None, "2015-06-23 13:19:44.128 +0000 UTC"),
        (
            '{{ define "x" }}[{{ . }}]{{ end }}{{ template "x" "a" }}{{ template "x" 2 }}',
            None,
            "[a][2]",
        ),
        ('{{ block "b" .v }}<{{ . }}>{{ end }}', {"v": "z"}, "<z>"),
        (
            '{{ define "args" }}{{ .arg0 }} {{ .arg1 }}{{ end }}{{ template "args" (args 1 "2") }}',
            None,
            "1 2",
        ),
        ('{{ slice "abcdef" 1 3 }} {{ slice "abc" 1 }}', None, "bc bc"),
    ],
)
def test_expands_like_prometheus(text: str, data: Any, output: str) -> None:
    assert expand(text, data) == output


def test_query_results_range_sort_and_pick() -> None:
    results = [(METRIC_B, 21.0), (METRIC_A, 11.0)]
    text = (
        '{{ range query "metric" | sortByLabel "instance" }}'
        "{{.Labels.instance}}:{{.Value}}: {{end}}"
    )
    assert expand(text, results=results) == "a:11: b:21: "
    assert expand('{{ query "metric" | first | value }}', results=[(METRIC_A, 11.0)]) == "11"
    assert expand('{{ query "m" | first | label "instance" }}', results=[(METRIC_A, 1.0)]) == "a"
    assert (
        expand('{{ $x := query "m" | first }}{{ $x.Labels.foo }}', results=[(METRIC_A, 1.0)]) == ""
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '{{ query "missing" | first }}',
            (
                'error executing template test: template: test:1:21: executing "test" at <first>: '
                "error calling first: first() called on vector with no elements"
            ),
        ),
        (
            '{{ humanize "one" }}',
            (
                "error executing template test: template: test:1:3: "
                'executing "test" at <humanize "one">: '
                'error calling humanize: strconv.ParseFloat: parsing "one": invalid syntax'
            ),
        ),
        (
            '{{ "one" | humanizePercentage }}',
            (
                'error executing template test: template: test:1:11: executing "test" at '
                "<humanizePercentage>: error calling humanizePercentage: "
                'strconv.ParseFloat: parsing "one": '
                "invalid syntax"
            ),
        ),
        ("{{", "error parsing template test: template: test:1: unclosed action"),
        (
            "{{ nope }}",
            'error parsing template test: template: test:1: function "nope" not defined',
        ),
        ("{{ $x }}", 'error parsing template test: template: test:1: undefined variable "$x"'),
        ("{{ end }}", "error parsing template test: template: test:1: unexpected {{end}}"),
        ("{{ if 1 }}x", "error parsing template test: template: test:1: unexpected EOF"),
    ],
)
def test_errors_carry_prometheus_message(text: str, message: str) -> None:
    with pytest.raises(TemplateError) as caught:
        expand(text, results=[])
    assert str(caught.value) == message


def _alert(text: str, labels: dict[str, str], value: float) -> str:
    data = alert_template_data(labels, {"cluster": "eu1"}, value)
    return expand_alert_template(text, "__alert_HighLatency", data, t_ms=0)


def test_alert_data_dollar_and_dot_forms() -> None:
    labels = {"__name__": "latency", "instance": "api:8080", "job": "api"}
    text = (
        "{{ $labels.instance }} {{ .Labels.job }} {{ $value }} {{ .Value | humanize }} "
        "{{ $externalLabels.cluster }} {{ .ExternalLabels.cluster | toUpper }}"
    )
    assert _alert(text, labels, 1234567.0) == "api:8080 api 1.234567e+06 1.235M eu1 EU1"
    assert _alert('{{ reReplaceAll ":.*" "" $labels.instance }}', labels, 0) == "api"
    assert _alert("{{ $labels.absent }}", labels, 0) == ""


def test_execution_error_becomes_the_annotation_text() -> None:
    out = _alert("{{ if gt $value 10 }}big{{ end }}", {}, 12.0)
    assert out.startswith(
        "<error expanding template: error executing template __alert_HighLatency: "
        "template: __alert_HighLatency:1:"
    )
    assert out.endswith(
        'executing "__alert_HighLatency" at <gt $value 10>: '
        "error calling gt: incompatible types for comparison>"
    )
    assert "can't evaluate field Nope" in _alert("{{ .Nope }}", {}, 1.0)


def test_check_template_names_the_template() -> None:
    check_template("{{ $value | humanize }} {{ $labels.x }}", "__alert_A")
    with pytest.raises(
        TemplateError, match=r'error parsing template __alert_A: .*"nope" not defined'
    ):
        check_template("{{ nope }}", "__alert_A")


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_go_float_text_round_trips(value: float) -> None:
    text = go_value_string(value)
    assert float(text) == value
    mantissa, _, exponent = go_float_e(value).partition("e")
    assert float(f"{mantissa}e{exponent}") == value
    assert len(exponent) >= 3  # sign and at least two digits, as Go writes them
    if 1e-4 <= abs(value) < 1e6:
        assert "e" not in text  # Go's %v switches to exponent form only outside this
