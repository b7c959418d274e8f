"""Alert templates as Prometheus expands them: its data (``$labels``, ``$value``,
``$externalLabels``), its definitions prefix and its error text (the functions are in
``_promfuncs``)."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from tradewarden.rules._gofmt import GoStruct
from tradewarden.rules._gotemplate import Function, Template, TemplateError, parse_template
from tradewarden.rules._promfuncs import (
    QueryFunc,
    humanize,
    humanize_1024,
    humanize_duration,
    humanize_percentage,
    humanize_timestamp,
    template_functions,
)
from tradewarden.series import Labels

__all__ = [
    "AlertExpander",
    "QueryFunc",
    "TemplateError",
    "alert_template_data",
    "check_template",
    "expand_alert_template",
    "expand_template",
    "humanize",
    "humanize_1024",
    "humanize_duration",
    "humanize_percentage",
    "humanize_timestamp",
]

# Prometheus prefixes every alert template with these definitions (rules/alerting.go), so
# error positions count them too.
_DEFS = (
    "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}"
    "{{$externalURL := .ExternalURL}}{{$value := .Value}}"
)


_PARSE_FUNCS = template_functions(None, 0, "")


@lru_cache(maxsize=4096)
def _parsed(text: str, name: str) -> Template:
    return parse_template(_DEFS + text, name, _PARSE_FUNCS)


def check_template(text: str, name: str) -> None:
    """Raise :class:`TemplateError` (Go's message) when ``text`` does not parse."""
    try:
        _parsed(text, name)
    except TemplateError as exc:
        raise TemplateError(f"error parsing template {name}: {exc}") from None


def alert_template_data(
    labels: Mapping[str, str],
    external_labels: Mapping[str, str],
    value: float,
    external_url: str = "",
) -> GoStruct:
    """The dot of an alert template: ``.Labels``, ``.ExternalLabels``, ``.Value``."""
    return GoStruct(
        "struct { Labels map[string]string; ExternalLabels map[string]string; "
        "ExternalURL string; Value float64 }",
        {
            "Labels": dict(labels),
            "ExternalLabels": dict(external_labels),
            "ExternalURL": external_url,
            "Value": value,
        },
    )


def expand_template(
    text: str,
    name: str,
    data: Any,
    *,
    t_ms: int = 0,
    query: QueryFunc | None = None,
    external_url: str = "",
) -> str:
    """Expand a template with Prometheus's functions (no alert definitions); raise
    :class:`TemplateError` with Prometheus's message."""
    try:
        template = parse_template(text, name, _PARSE_FUNCS)
    except TemplateError as exc:
        raise TemplateError(f"error parsing template {name}: {exc}") from None
    try:
        return template.execute(data, template_functions(query, t_ms, external_url))
    except TemplateError as exc:
        raise TemplateError(f"error executing template {name}: {exc}") from None


def expand_alert_template(
    text: str,
    name: str,
    data: GoStruct,
    *,
    t_ms: int,
    query: QueryFunc | None = None,
    external_url: str = "",
) -> str:
    """Expand one label or annotation template; a failure is the text Prometheus shows,
    ``<error expanding template: ...>``."""
    if "{{" not in text:
        return text
    try:
        template = _parsed(text, name)
    except TemplateError as exc:
        return f"<error expanding template: error parsing template {name}: {exc}>"
    return _execute(template, name, data, template_functions(query, t_ms, external_url))


def _execute(template: Template, name: str, data: Any, funcs: dict[str, Function]) -> str:
    try:
        return template.execute(data, funcs)
    except TemplateError as exc:
        return f"<error expanding template: error executing template {name}: {exc}>"
    except RecursionError:
        return f"<error expanding template: error executing template {name}: too deep>"


# (template text, alert labels, value bits) -> expansion, per rule.
ExpansionCache = dict[tuple[str, Labels, str], str]
_CACHE_LIMIT = 50_000


class AlertExpander:
    """Expands one alerting rule's templates during one evaluation: the functions are
    built once, and an expansion that cannot change (no ``query``: the same text, labels
    and value give the same output) is taken from the rule's cache."""

    def __init__(
        self,
        name: str,
        external_labels: Mapping[str, str],
        *,
        t_ms: int,
        query: QueryFunc | None,
        external_url: str,
        cache: ExpansionCache,
    ) -> None:
        self.name = name
        self._external_labels = external_labels
        self._external_url = external_url
        self._funcs = template_functions(query, t_ms, external_url)
        self._cache = cache
        if len(cache) > _CACHE_LIMIT:
            cache.clear()

    def expand(self, text: str, labels: Labels, value: float) -> str:
        """Expand ``text`` for a sample; errors become Prometheus's error text."""
        if "{{" not in text:
            return text
        key = (text, labels, value.hex())
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        try:
            template = _parsed(text, self.name)
        except TemplateError as exc:
            return f"<error expanding template: error parsing template {self.name}: {exc}>"
        data = alert_template_data(
            labels.to_dict(), self._external_labels, value, self._external_url
        )
        out = _execute(template, self.name, data, self._funcs)
        if "query" not in text:
            self._cache[key] = out
        return out
