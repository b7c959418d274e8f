"""The evaluator's small helpers: Go float semantics, XXH64, RE2 flag groups, positions."""

from __future__ import annotations

import math
import re

import pytest

from tradewarden.promql._aggregate import format_float, kahan_sum
from tradewarden.promql._arith import go_div, go_mod, go_pow
from tradewarden.promql._ast import (
    compile_expr,
    function_names,
    parse,
    re2_flags_to_python,
    selectors,
    with_at,
)
from tradewarden.promql._positions import format_position, scan_calls
from tradewarden.promql._xxhash import labels_hash, xxh64
from tradewarden.series import Labels


@pytest.mark.parametrize(
    ("a", "b", "want"),
    [(1.0, 0.0, math.inf), (-1.0, 0.0, -math.inf), (1.0, -0.0, -math.inf), (6.0, 3.0, 2.0)],
)
def test_division(a: float, b: float, want: float) -> None:
    assert go_div(a, b) == want
    assert math.isnan(go_div(0.0, 0.0))


def test_modulo_and_power_follow_go() -> None:
    assert go_mod(-7.0, 3.0) == -1.0
    assert math.isnan(go_mod(1.0, 0.0))
    assert math.isnan(go_mod(math.inf, 2.0))
    assert go_pow(2.0, 10.0) == 1024.0
    assert go_pow(math.nan, 0.0) == 1.0
    assert go_pow(1.0, math.nan) == 1.0
    assert math.isnan(go_pow(-8.0, 1 / 3))
    assert go_pow(10.0, 400.0) == math.inf
    assert go_pow(-10.0, 401.0) == -math.inf
    assert go_pow(0.0, -1.0) == math.inf
    assert go_pow(-0.0, -1.0) == -math.inf


def test_sums_and_float_formatting() -> None:
    assert kahan_sum([1e100, 1.0, -1e100]) == 1.0
    assert kahan_sum([math.inf, 1.0]) == math.inf
    assert math.isnan(kahan_sum([math.inf, -math.inf]))
    assert kahan_sum([1e308, 1e308]) == math.inf
    assert [format_float(v) for v in (1.0, 0.5, 1e21, -2.5e-7, math.inf, math.nan)] == [
        "1",
        "0.5",
        "1000000000000000000000",
        "-0.00000025",
        "+Inf",
        "NaN",
    ]


def test_xxh64_reference_vectors() -> None:
    assert xxh64(b"") == 0xEF46DB3751D8E999
    assert xxh64(b"a") == 0xD24EC4F1A98C6E5B
    assert xxh64(b"abc") == 0x44BC2CF5AD770999
    assert xxh64(b"Nobody inspects the spammish repetition") == 0xFBCEA83C8A378BF1
    assert labels_hash(Labels.of(a="b")) == xxh64(b"a\xffb\xff")


@pytest.mark.parametrize(
    ("pattern", "matches", "misses"),
    [
        ("((?i)PRO).*", ["production", "PROD"], ["xpro"]),
        (".*((?i)tion)", ["producTION"], ["tio"]),
        ("(?i)abc", ["ABC"], ["abd"]),
        ("a[(?i)]b", ["a(b", "aib"], ["aIb"]),
    ],
)
def test_re2_flag_groups(pattern: str, matches: list[str], misses: list[str]) -> None:
    compiled = re.compile(f"(?:{re2_flags_to_python(pattern)})", re.DOTALL)
    assert all(compiled.fullmatch(m) for m in matches)
    assert not any(compiled.fullmatch(m) for m in misses)


def test_call_positions() -> None:
    text = 'sum by (job) (histogram_quantile(0.9, rate(x{a="f(b)"}[5m])))'
    sites = scan_calls(text)
    (hq,) = sites["histogram_quantile"]
    assert [format_position(text, a) for a in hq.args] == ["1:34", "1:39"]
    (agg,) = sites["sum"]
    assert format_position(text, agg.start) == "1:1"
    assert "f" not in sites  # inside a label matcher
    assert format_position("a +\n  b", 6) == "2:3"


def test_with_at_pins_selectors_but_not_inside_subqueries() -> None:
    node = compile_expr(parse("rate(a[5m]) + max_over_time(b[5m:1m]) + c @ 10"))
    pinned = with_at(node, 99_000)
    by_name = {sel.name: sel.at for sel in selectors(pinned)}
    assert by_name == {"a": 99_000, "b": None, "c": 10_000}
    assert {sel.name: sel.at for sel in selectors(node)}["a"] is None  # a copy
    assert function_names(node) == {"rate", "max_over_time"}
