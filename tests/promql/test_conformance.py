"""Prometheus's own PromQL test files, run through the conformance harness: one test per
file. The in-scope files must have no failed eval; the stretch files only report."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tradewarden.promql.conformance import default_dir, run_file

IN_SCOPE = [
    "aggregators",
    "collision",
    "functions",
    "histograms",
    "literals",
    "name_label_dropping",
    "operators",
    "range_queries",
    "selectors",
    "staleness",
    "trig_functions",
]
STRETCH = ["at_modifier", "subquery", "limit"]


def _test_file(name: str) -> Path:
    directory = default_dir()
    if not directory.is_dir():
        message = f"the PromQL test files are missing: {directory} (set TW_PROMQLTEST_DIR)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    path = directory / f"{name}.test"
    if not path.is_file():
        pytest.fail(f"{path} is missing")
    return path


@pytest.mark.parametrize("name", IN_SCOPE)
def test_in_scope_file_has_no_failed_eval(name: str) -> None:
    report = run_file(_test_file(name))
    print(report.summary())
    failures = "\n".join(str(f) for f in report.failures)
    assert report.failed == 0, f"{report.summary()}\n{failures}"
    assert report.passed > 0


@pytest.mark.parametrize("name", STRETCH)
def test_stretch_file_reports(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    report = run_file(_test_file(name))
    with capsys.disabled():
        print(f"\n{report.summary()}")
    assert report.passed + report.failed + report.skipped > 0
