"""Prometheus's template functions (``template/template.go``): ``humanize*``, ``query``
and its helpers, the string and host functions. Output formats follow Prometheus's."""

from __future__ import annotations

import ipaddress
import math
import re
import urllib.parse
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from tradewarden.rules._durations import parse_duration_ms
from tradewarden.rules._gobuiltins import arg_error, call_error
from tradewarden.rules._gofmt import GoStruct, GoTime, go_type
from tradewarden.rules._goparse import Function
from tradewarden.series import Labels

__all__ = [
    "QueryFunc",
    "humanize",
    "humanize_1024",
    "humanize_duration",
    "humanize_percentage",
    "humanize_timestamp",
    "split_host_port",
    "template_functions",
]

# An instant query for the template's ``query`` function: (expression, time in ms) ->
# [(labels, value), ...]; raises with the engine's message.
QueryFunc = Callable[[str, int], Sequence[tuple[Labels, float]]]


def _fmt4g(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return format(value, ".4g")


def _to_float(value: Any) -> float:
    if isinstance(value, bool):
        raise call_error(f"can't convert {go_type(value)} to float")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            raise call_error(f'strconv.ParseFloat: parsing "{value}": invalid syntax') from None
    raise call_error(f"can't convert {go_type(value)} to float")


def humanize(value: Any) -> str:
    """``humanize``: SI prefixes, 4 significant digits (``1.235M``, ``12.5m``)."""
    v = _to_float(value)
    if v == 0 or math.isnan(v) or math.isinf(v):
        return _fmt4g(v)
    prefix = ""
    if abs(v) >= 1:
        for p in ("k", "M", "G", "T", "P", "E", "Z", "Y"):
            if abs(v) < 1000:
                break
            prefix = p
            v /= 1000
        return _fmt4g(v) + prefix
    for p in ("m", "u", "n", "p", "f", "a", "z", "y"):
        if abs(v) >= 1:
            break
        prefix = p
        v *= 1000
    return _fmt4g(v) + prefix


def humanize_1024(value: Any) -> str:
    """``humanize1024``: binary prefixes (``1Mi``)."""
    v = _to_float(value)
    if abs(v) <= 1 or math.isnan(v) or math.isinf(v):
        return _fmt4g(v)
    prefix = ""
    for p in ("ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"):
        if abs(v) < 1024:
            break
        prefix = p
        v /= 1024
    return _fmt4g(v) + prefix


def humanize_duration(value: Any) -> str:  # noqa: PLR0911 - Prometheus's cases
    """``humanizeDuration``: seconds as ``1d 2h 3m 4s``, or ``12.5ms`` below a second."""
    v = _to_float(value)
    if math.isnan(v) or math.isinf(v):
        return _fmt4g(v)
    if v == 0:
        return _fmt4g(v) + "s"
    if abs(v) >= 1:
        sign = ""
        if v < 0:
            sign, v = "-", -v
        whole = int(v)
        seconds, minutes = whole % 60, (whole // 60) % 60
        hours, days = (whole // 3600) % 24, whole // 86400
        if days:
            return f"{sign}{days}d {hours}h {minutes}m {seconds}s"
        if hours:
            return f"{sign}{hours}h {minutes}m {seconds}s"
        if minutes:
            return f"{sign}{minutes}m {seconds}s"
        return f"{sign}{_fmt4g(v)}s"
    prefix = ""
    for p in ("m", "u", "n", "p", "f", "a", "z", "y"):
        if abs(v) >= 1:
            break
        prefix = p
        v *= 1000
    return f"{_fmt4g(v)}{prefix}s"


def humanize_percentage(value: Any) -> str:
    """``humanizePercentage``: a ratio as a percentage (``12.35%``)."""
    return _fmt4g(_to_float(value) * 100) + "%"


def _go_time_text(v: float) -> str:
    nanos = int(v * 1e9)
    if not -(2**63) <= nanos < 2**63:
        raise call_error(
            f"{v!r} cannot be represented as a nanoseconds timestamp since it overflows int64"
        )
    seconds, frac = divmod(nanos, 1_000_000_000)
    try:
        moment = datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise call_error(f"timestamp {v} out of range") from None
    text = moment.strftime("%Y-%m-%d %H:%M:%S")
    if frac:
        text += "." + f"{frac:09d}".rstrip("0")
    return text + " +0000 UTC"


def humanize_timestamp(value: Any) -> str:
    """``humanizeTimestamp``: epoch seconds as Go prints a UTC time."""
    v = _to_float(value)
    if math.isnan(v) or math.isinf(v):
        return _fmt4g(v)
    return _go_time_text(v)


def _to_time(value: Any) -> GoTime:
    v = _to_float(value)
    if math.isnan(v) or math.isinf(v):
        raise call_error("cannot convert NaN or Inf to time")
    return GoTime(_go_time_text(v))


def split_host_port(host_port: str) -> tuple[str, str] | None:
    """Go's ``net.SplitHostPort``; None where Go returns an error."""
    last = host_port.rfind(":")
    if last < 0:
        return None
    if host_port.startswith("["):
        end = host_port.find("]")
        if end < 0 or end + 1 != last:
            return None
        host, rest_from = host_port[1:end], end + 1
    else:
        host, rest_from = host_port[:last], last
        if ":" in host:
            return None
    if "[" in host_port[1:] or "]" in host_port[rest_from:]:
        return None
    return host, host_port[last + 1 :]


def _join_host_port(host: str, port: str) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _strip_port(host_port: Any) -> str:
    _need_str(host_port)
    split = split_host_port(host_port)
    return host_port if split is None else split[0]


def _strip_domain(host_port: Any) -> str:
    _need_str(host_port)
    text: str = host_port
    split = split_host_port(text)
    host, port = split if split is not None else (text, "")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return text
    host = host.split(".")[0]
    return _join_host_port(host, port) if port else host


def _parse_duration(text: Any) -> float:
    _need_str(text)
    try:
        return parse_duration_ms(text) / 1000
    except ValueError as exc:
        raise call_error(str(exc)) from None


def _graph_link(expr: Any, tab: int) -> str:
    _need_str(expr)
    return f"/graph?g0.expr={urllib.parse.quote_plus(expr, safe='')}&g0.tab={tab}"


def _go_title(text: Any) -> str:
    _need_str(text)
    # strings.Title: upper-case the first letter of each word (words split at non-letters).
    return re.sub(r"(?<![\w'])([^\W\d_])", lambda m: m.group(1).upper(), text)


def _need_str(*values: Any) -> None:
    for value in values:
        if not isinstance(value, str):
            raise arg_error(f"wrong type for value; expected string; got {go_type(value)}")


@lru_cache(maxsize=512)
def _regex(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise call_error(f"error parsing regexp: {exc}") from None


def _go_expand(template: str, match: re.Match[str]) -> str:
    """Go's ``Regexp.Expand``: ``$1``, ``${1}``, ``$name``, ``${name}``, ``$$``."""

    def group(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name = m.group(1) or m.group(2)
        try:
            return match.group(int(name) if name.isdigit() else name) or ""
        except IndexError:  # no such group: Go expands it to nothing
            return ""

    return re.sub(r"\$\$|\$\{(\w+)\}|\$(\w+)", group, template)


def _re_replace_all(pattern: Any, replacement: Any, text: Any) -> str:
    _need_str(pattern, replacement, text)
    regex = _regex(pattern)
    return regex.sub(lambda m: _go_expand(replacement, m), text)


def _match(pattern: Any, text: Any) -> bool:
    _need_str(pattern, text)
    return _regex(pattern).search(text) is not None


class _QueryResult(list[GoStruct]):
    """What ``query`` returns (Go: ``template.queryResult``)."""

    go_type_name = "template.queryResult"


def _sample(labels: Labels, value: float) -> GoStruct:
    return GoStruct("*template.sample", {"Labels": dict(labels), "Value": value})


def _samples(value: Any) -> list[GoStruct]:
    if not isinstance(value, list):
        expected = "expected template.queryResult"
        raise arg_error(f"wrong type for value; {expected}; got {go_type(value)}")
    return value


def _first(results: Any) -> GoStruct:
    found = _samples(results)
    if not found:
        raise call_error("first() called on vector with no elements")
    return found[0]


def _field(sample: Any, name: str) -> Any:
    if not isinstance(sample, GoStruct):
        raise arg_error(f"wrong type for value; expected *template.sample; got {go_type(sample)}")
    return sample.fields.get(name)


def _label(label: Any, sample: Any) -> str:
    labels = _field(sample, "Labels")
    return str(labels.get(label, "")) if isinstance(labels, dict) else ""


def _sort_by_label(label: Any, results: Any) -> list[GoStruct]:
    found = _samples(results)
    return _QueryResult(sorted(found, key=lambda s: str(s.fields["Labels"].get(label, ""))))


def _to_str(name: str) -> Callable[[Any], str]:
    methods: dict[str, Callable[[str], str]] = {"toUpper": str.upper, "toLower": str.lower}

    def convert(text: Any) -> str:
        _need_str(text)
        return methods[name](text)

    return convert


def _args(*values: Any) -> dict[str, Any]:
    return {f"arg{i}": v for i, v in enumerate(values)}


def template_functions(
    query: QueryFunc | None, t_ms: int, external_url: str
) -> dict[str, Function]:
    """The functions of one expansion: ``query`` runs at ``t_ms``."""

    def run_query(expression: Any) -> _QueryResult:
        _need_str(expression)
        if query is None:
            raise call_error("query is not available here")
        try:
            return _QueryResult(_sample(labels, v) for labels, v in query(expression, t_ms))
        except Exception as exc:  # noqa: BLE001 - the engine's error becomes the template's
            raise call_error(str(exc)) from None

    path = re.sub(r"^[a-z]+://[^/]*", "", external_url)
    return {
        "query": run_query,
        "first": _first,
        "label": _label,
        "value": lambda s: _field(s, "Value"),
        "strvalue": lambda s: str(_field(s, "Labels").get("__value__", "")),
        "args": _args,
        "reReplaceAll": _re_replace_all,
        "safeHtml": lambda s: s,
        "match": _match,
        "title": _go_title,
        "toUpper": _to_str("toUpper"),
        "toLower": _to_str("toLower"),
        "sortByLabel": _sort_by_label,
        "humanize": humanize,
        "humanize1024": humanize_1024,
        "humanizeDuration": humanize_duration,
        "humanizePercentage": humanize_percentage,
        "humanizeTimestamp": humanize_timestamp,
        "toTime": _to_time,
        "parseDuration": _parse_duration,
        "stripPort": _strip_port,
        "stripDomain": _strip_domain,
        "graphLink": lambda expr: _graph_link(expr, 0),
        "tableLink": lambda expr: _graph_link(expr, 1),
        "pathPrefix": lambda: path,
        "externalURL": lambda: external_url,
    }
