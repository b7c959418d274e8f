"""The built-in functions of Go templates (``eq``, ``len``, ``printf``, ...) and the
errors a template function raises."""

from __future__ import annotations

import html
import operator
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any

from tradewarden.rules._gofmt import GoStruct, go_sprint, go_sprintf, go_type, go_value_string
from tradewarden.rules._goparse import Function

__all__ = ["BUILTIN_FUNCS", "ArgError", "CallError", "arg_error", "call_error", "truth"]


def truth(value: Any) -> bool:
    """Go template truthiness: false, 0, nil and empty values are false."""
    if value is None:
        return False
    if isinstance(value, GoStruct):
        return True
    if isinstance(value, (bool, int, float, str, Mapping, list, tuple)):
        return bool(value)
    return True


class CallError(Exception):
    """A function's error: shown as ``error calling <name>: <message>``."""


class ArgError(Exception):
    """A wrong argument: shown as Go's message for it."""


def call_error(message: str) -> Exception:
    """Return the exception a template function raises to fail the template."""
    return CallError(message)


def arg_error(message: str) -> Exception:
    """Return the exception for an argument of the wrong type or count."""
    return ArgError(message)


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "nil"
    return "other"


_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "lt": operator.lt,
    "le": operator.le,
    "gt": operator.gt,
    "ge": operator.ge,
}


def _compare_two(op: str, first: Any, other: Any) -> bool:
    k1, k2 = _kind(first), _kind(other)
    if "other" in (k1, k2) and op in ("eq", "ne") and "nil" not in (k1, k2):
        raise CallError("non-comparable types")
    if k1 != k2:
        raise CallError("incompatible types for comparison")
    if op not in ("eq", "ne") and k1 in ("bool", "nil", "other"):
        raise CallError("invalid type for comparison")
    return _OPERATORS[op](first, other)


def _compare(op: str) -> Function:
    def compare(*args: Any) -> bool:
        if len(args) < 2 or (op != "eq" and len(args) != 2):
            raise ArgError(f"wrong number of args for {op}: want 2 got {len(args)}")
        # eq takes several: true when the first equals any of the others.
        return any(_compare_two(op, args[0], other) for other in args[1:])

    return compare


def _not(value: Any) -> bool:
    return not truth(value)


def _len(value: Any) -> int:
    if isinstance(value, (str, Mapping, list, tuple)):
        return len(value.encode() if isinstance(value, str) else value)
    raise CallError(f"len of type {go_type(value)}")


def _index(item: Any, *keys: Any) -> Any:
    for key in keys:
        if isinstance(item, Mapping):
            item = item.get(key, "")
        elif isinstance(item, (list, tuple, str)) and isinstance(key, int):
            if not 0 <= key < len(item):
                raise CallError(f"index out of range: {key}")
            item = item[key]
        else:
            raise CallError(f"can't index item of type {go_type(item)}")
    return item


def _slice(item: Any, *indexes: Any) -> Any:
    if not isinstance(item, (str, list, tuple)):
        raise CallError(f"can't slice item of type {go_type(item)}")
    if len(indexes) > 2 or not all(isinstance(i, int) and not isinstance(i, bool) for i in indexes):
        raise CallError("invalid slice index")
    bounds = [*indexes, *[0, len(item)][len(indexes) :]]
    start, end = bounds[0], bounds[1]
    if not 0 <= start <= end <= len(item):
        raise CallError(f"index out of range: {end if end > len(item) else start}")
    return item[start:end]


def _sprintln(*args: Any) -> str:
    return " ".join(go_value_string(a) for a in args) + "\n"


def _printf(template: Any, *args: Any) -> str:
    if not isinstance(template, str):
        raise ArgError(f"wrong type for value; expected string; got {go_type(template)}")
    return go_sprintf(template, *args)


BUILTIN_FUNCS: dict[str, Function] = {
    "not": _not,
    "len": _len,
    "index": _index,
    "print": go_sprint,
    "printf": _printf,
    "println": _sprintln,
    "html": lambda *a: html.escape(go_sprint(*a)),
    "js": lambda *a: go_sprint(*a).replace("\\", "\\\\").replace("'", "\\'").replace('"', '\\"'),
    "urlquery": lambda *a: urllib.parse.quote_plus(go_sprint(*a)),
    "slice": _slice,
    **{op: _compare(op) for op in ("eq", "ne", "lt", "le", "gt", "ge")},
}
