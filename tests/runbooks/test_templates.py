"""Templates: Jinja2 in a sandbox, a missing value named, syntax checked at load."""

from __future__ import annotations

import pytest
from jinja2.exceptions import SecurityError

from tradewarden.runbooks._templates import MissingValue, check_template, render


def test_labels_and_annotations_render() -> None:
    text = render(
        "{{ labels.queue }}/{{ annotations.summary }}/{{ labels['instance'] }}",
        {"queue": "orders", "instance": "bot:9100"},
        {"summary": "backlog"},
    )
    assert text == "orders/backlog/bot:9100"


def test_plain_text_is_left_alone() -> None:
    assert render("up{job='x'} {not a template}", {}, {}) == "up{job='x'} {not a template}"


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{ labels.queue }}", "label queue missing"),
        ("{{ labels['queue'] }}", "label queue missing"),
        ("{{ annotations.summary }}", "annotation summary missing"),
    ],
)
def test_a_missing_value_is_named(template: str, message: str) -> None:
    with pytest.raises(MissingValue, match=message):
        render(template, {}, {})


def test_the_sandbox_refuses_reaching_into_python() -> None:
    with pytest.raises(SecurityError):
        render("{{ labels.__class__.__init__.__globals__ }}", {"a": "b"}, {})


def test_syntax_errors_are_found_at_load() -> None:
    assert check_template("{{ labels.a }}") == "{{ labels.a }}"
    with pytest.raises(ValueError, match="invalid template"):
        check_template("{{ labels.a }")
    with pytest.raises(ValueError, match="invalid template"):
        check_template("{% if %}")
    with pytest.raises(ValueError, match="unknown variable label "):
        check_template("{{ label.queue }}")
