"""Templated step fields (``{{ labels.queue }}``): Jinja2 in a sandbox, strict about
missing values.

A template is compiled when its runbook loads (a syntax error is a load error naming the
field) and rendered when a step runs, with the alert's ``labels`` and ``annotations``. A
missing value raises :class:`MissingValue` ("label queue missing"): that step is skipped,
the rest of the run goes on.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any, NoReturn

from jinja2 import StrictUndefined, TemplateSyntaxError, meta
from jinja2.environment import Template
from jinja2.sandbox import SandboxedEnvironment

__all__ = ["MissingValue", "check_template", "is_templated", "render"]

_VARIABLES = frozenset({"labels", "annotations"})


class MissingValue(Exception):  # noqa: N818 - reads as the reason a step is skipped
    """A template referred to a label or annotation the alert does not carry."""


class _Names(dict[str, str]):
    """The alert's labels or annotations, knowing what to call a missing one."""

    def __init__(self, singular: str, values: Mapping[str, str]) -> None:
        super().__init__(values)
        self.singular = singular


class _Undefined(StrictUndefined):
    def _fail_with_undefined_error(self, *args: Any, **kwargs: Any) -> NoReturn:
        owner = self._undefined_obj
        if isinstance(owner, _Names) and isinstance(self._undefined_name, str):
            raise MissingValue(f"{owner.singular} {self._undefined_name} missing")
        super()._fail_with_undefined_error(*args, **kwargs)

    # StrictUndefined binds these to the base class's function: point them at ours.
    __str__ = __iter__ = __len__ = __bool__ = __contains__ = _fail_with_undefined_error
    __eq__ = __ne__ = __hash__ = _fail_with_undefined_error


@lru_cache(maxsize=1)
def _environment() -> SandboxedEnvironment:
    # Values land in URLs, queries' bind parameters and Redis arguments, never in HTML.
    return SandboxedEnvironment(undefined=_Undefined, autoescape=False, keep_trailing_newline=True)


@lru_cache(maxsize=4096)
def _compile(text: str) -> Template:
    return _environment().from_string(text)


def is_templated(text: str) -> bool:
    """Return whether ``text`` holds Jinja2 markup at all."""
    return "{{" in text or "{%" in text or "{#" in text


def check_template(text: str) -> str:
    """Compile ``text``; raise ValueError naming the syntax problem. Return ``text``."""
    if not is_templated(text):
        return text
    try:
        _compile(text)
        names = meta.find_undeclared_variables(_environment().parse(text))
    except TemplateSyntaxError as exc:
        raise ValueError(f"invalid template (line {exc.lineno}): {exc.message}") from None
    unknown = sorted(names - _VARIABLES)
    if unknown:
        raise ValueError(
            f"invalid template: unknown variable {', '.join(unknown)} (use labels or annotations)"
        )
    return text


def render(text: str, labels: Mapping[str, str], annotations: Mapping[str, str]) -> str:
    """Render ``text`` with the alert's values; raise MissingValue when one is missing."""
    if not is_templated(text):
        return text
    return _compile(text).render(
        labels=_Names("label", labels), annotations=_Names("annotation", annotations)
    )
