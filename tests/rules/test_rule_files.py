"""Rule files: what the real ``promtool check rules`` accepts loads, what it rejects is
rejected too, with file, group, rule and the parser's message."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import in_ci
from tradewarden.rules import (
    RuleLoadError,
    format_duration,
    load_rule_files,
    parse_duration_ms,
    parse_rule_text,
)

PROMTOOL = "/usr/bin/promtool"

GOOD = """\
groups:
  - name: api
    interval: 30s
    limit: 100
    rules:
      - record: job:http_requests:rate5m
        expr: sum by (job) (rate(http_requests_total[5m]))
        labels:
          source: tradewarden
      - alert: HighErrorRate
        expr: |
          sum by (job) (rate(http_requests_total{code=~"5.."}[5m]))
            / sum by (job) (rate(http_requests_total[5m])) > 0.05
        for: 5m
        keep_firing_for: 1m
        labels:
          severity: page
          team: "{{ $labels.job }}"
        annotations:
          summary: "{{ $labels.job }} errors at {{ $value | humanizePercentage }}"
          description: >-
            {{ if gt $value 0.5 }}most{{ else }}some{{ end }} requests fail;
            {{ with query "up" }}{{ . | len }} targets{{ end }}
            {{ range $k, $v := $labels }}{{ $k }}={{ $v }} {{ end }}
          runbook_url: https://example.invalid/runbooks/api#higherrorrate
  - name: workers
    rules:
      - alert: WorkerDown
        expr: up{job="worker"} == 0
        for: 1m
        annotations:
          summary: "{{ $labels.instance }} down since {{ humanizeDuration 60.0 }}"
"""

BAD = {
    "duplicate_group": (
        "groups:\n  - name: a\n    rules: []\n  - name: a\n    rules: []\n",
        '"a" is repeated in the same file',
        (None, None),
    ),
    "record_and_alert": (
        "groups:\n  - name: g\n    rules:\n      - record: a\n        alert: B\n        expr: up\n",
        "only one of 'record' and 'alert' must be set",
        (1, "B"),
    ),
    "neither": (
        "groups:\n  - name: g\n    rules:\n      - expr: up\n",
        "one of 'record' or 'alert' must be set",
        (1, None),
    ),
    "for_on_record": (
        "groups:\n  - name: g\n    rules:\n      - record: a\n        expr: up\n        for: 5m\n",
        "invalid field 'for' in recording rule",
        (1, "a"),
    ),
    "annotations_on_record": (
        (
            "groups:\n  - name: g\n    rules:\n      - record: a\n        expr: up\n"
            "        annotations: {x: y}\n"
        ),
        "invalid field 'annotations' in recording rule",
        (1, "a"),
    ),
    "bad_record_name": (
        "groups:\n  - name: g\n    rules:\n      - record: bad-name\n        expr: up\n",
        "invalid recording rule name: bad-name",
        (1, "bad-name"),
    ),
    "bad_label_name": (
        (
            "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n"
            "        labels: {bad-label: x}\n"
        ),
        "invalid label name: bad-label",
        (1, "A"),
    ),
    "promql_syntax": (
        (
            "groups:\n  - name: g\n    rules:\n      - record: ok\n        expr: up\n"
            "      - alert: Broken\n        expr: sum(rate(x[5m])\n"
        ),
        "could not parse expression:",
        (2, "Broken"),
    ),
    "template_unclosed": (
        (
            "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n"
            "        annotations: {summary: '{{ $labels.x '}\n"
        ),
        "error parsing template __alert_A: template: __alert_A:1: unclosed action",
        (1, "A"),
    ),
    "template_unknown_function": (
        (
            "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n"
            "        labels: {x: '{{ nope $value }}'}\n"
        ),
        'function "nope" not defined',
        (1, "A"),
    ),
    "unknown_field": (
        "groups:\n  - name: g\n    rules:\n      - alert: A\n        expresion: up\n",
        "field expresion not found",
        (1, "A"),
    ),
    "bad_duration": (
        "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        for: 5x\n",
        'not a valid duration string: "5x"',
        (1, "A"),
    ),
    "empty_group_name": (
        "groups:\n  - name: ''\n    rules: []\n",
        "Groupname must not be empty",
        (None, None),
    ),
    "no_expr": (
        "groups:\n  - name: g\n    rules:\n      - alert: A\n",
        "field 'expr' must be set in rule",
        (1, "A"),
    ),
}


def promtool_ok(path: Path) -> tuple[bool, str]:
    done = subprocess.run(
        [PROMTOOL, "check", "rules", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return done.returncode == 0, done.stdout + done.stderr


@pytest.fixture
def promtool() -> str:
    if shutil.which(PROMTOOL) is None:
        if in_ci():
            pytest.fail("promtool is missing (Debian package prometheus)")
        pytest.skip("promtool is not installed")
    return PROMTOOL


def test_good_file_passes_promtool_and_loads(tmp_path: Path, promtool: str) -> None:
    del promtool
    path = tmp_path / "good.yml"
    path.write_text(GOOD)
    ok, output = promtool_ok(path)
    assert ok, output
    groups = load_rule_files([path])
    assert [g.name for g in groups] == ["api", "workers"]
    api = groups[0]
    assert api.interval_ms == 30_000
    assert api.limit == 100
    assert groups[1].interval_ms is None
    record, alert = api.rules
    assert (record.kind, record.name, record.labels) == (
        "record",
        "job:http_requests:rate5m",
        (("source", "tradewarden"),),
    )
    assert (alert.kind, alert.for_ms, alert.keep_firing_for_ms) == ("alert", 300_000, 60_000)
    assert dict(alert.annotations)["runbook_url"].endswith("#higherrorrate")


@pytest.mark.parametrize("case", sorted(BAD))
def test_promtool_and_warden_reject_the_same_files(
    case: str, tmp_path: Path, promtool: str
) -> None:
    del promtool
    text, message, (index, name) = BAD[case]
    path = tmp_path / f"{case}.yml"
    path.write_text(text)
    ok, output = promtool_ok(path)
    assert not ok, f"promtool accepted {case}: {output}"
    with pytest.raises(RuleLoadError) as caught:
        load_rule_files([path])
    problems = caught.value.problems
    assert any(message in p.message for p in problems), [str(p) for p in problems]
    problem = next(p for p in problems if message in p.message)
    assert problem.file == str(path)
    assert problem.line is not None
    assert (problem.rule_index, problem.rule_name) == (index, name)
    if index is not None:
        assert problem.group == "g"
        assert f"rule {index}" in str(problem)
    assert str(path) in str(caught.value)


def test_one_bad_file_rejects_the_whole_load(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.yml", tmp_path / "bad.yml"
    good.write_text(GOOD)
    bad.write_text(BAD["promql_syntax"][0])
    with pytest.raises(RuleLoadError) as caught:
        load_rule_files([good, bad])
    assert {p.file for p in caught.value.problems} == {str(bad)}


def test_every_problem_of_a_file_is_listed() -> None:
    text = (
        "groups:\n  - name: g\n    rules:\n"
        "      - record: bad-name\n        expr: up\n"
        "      - alert: A\n        expr: 'up +'\n"
    )
    with pytest.raises(RuleLoadError) as caught:
        parse_rule_text(text, "two.yml")
    assert [(p.rule_index, p.line) for p in caught.value.problems] == [(1, 4), (2, 7)]


def test_yaml_errors_name_the_line() -> None:
    with pytest.raises(RuleLoadError) as caught:
        parse_rule_text("groups:\n  - name: [unclosed\n", "broken.yml")
    (problem,) = caught.value.problems
    assert problem.file == "broken.yml"
    assert problem.message.startswith("YAML:")
    assert problem.line is not None


def test_unreadable_file_is_a_problem(tmp_path: Path) -> None:
    with pytest.raises(RuleLoadError, match="cannot read"):
        load_rule_files([tmp_path / "absent.yml"])


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("0", 0),
        ("0s", 0),
        ("100ms", 100),
        ("5m", 300_000),
        ("1h30m", 5_400_000),
        ("1d", 86_400_000),
    ],
)
def test_durations_round_trip(text: str, ms: int) -> None:
    assert parse_duration_ms(text) == ms
    assert parse_duration_ms(format_duration(ms)) == ms


@pytest.mark.parametrize("text", ["", "5", "1.5m", "m", "5m1h", "-1s"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="not a valid duration string"):
        parse_duration_ms(text)
