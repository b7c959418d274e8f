"""Go's ``fmt`` as alert templates see it: how a value prints (``%v``) and ``printf``.

Prometheus templates are Go ``text/template``; the text an annotation shows is Go's
formatting of Go values. Values here are Python stand-ins: ``float`` is float64, ``int``
is int, ``str`` string, ``bool`` bool, ``None`` nil, ``dict`` a map, ``list`` a slice and
:class:`GoStruct` a struct.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

__all__ = [
    "GoStruct",
    "GoTime",
    "go_float_e",
    "go_sprint",
    "go_sprintf",
    "go_type",
    "go_value_string",
]


@dataclass(frozen=True)
class GoStruct:
    """A struct: named fields in order (``type_name`` is what error messages show)."""

    type_name: str
    fields: Mapping[str, Any]


@dataclass(frozen=True)
class GoTime:
    """A ``time.Time`` (what ``toTime`` returns): printed as Go prints a UTC time."""

    text: str
    go_type_name = "*time.Time"


def go_type(value: Any) -> str:  # noqa: PLR0911 - one answer per type
    """Return the Go type name of a value, for error messages."""
    named = getattr(value, "go_type_name", None)
    if isinstance(named, str):
        return named
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, GoStruct):
        return value.type_name
    if isinstance(value, Mapping):
        return "map[string]string"
    if isinstance(value, Sequence):
        return "[]interface {}"
    return type(value).__name__


def _float_g(value: float) -> str:  # noqa: PLR0911 - Go's cases
    """``%v`` of a float64: the shortest digits, exponent form below 1e-4 or from 1e6."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if math.copysign(1, value) < 0 else "0"
    sign, digits, exponent = Decimal(repr(value)).normalize().as_tuple()
    exponent = int(exponent)  # finite: NaN and infinities are handled above
    text = "".join(map(str, digits))
    exp = len(text) + exponent - 1
    prefix = "-" if sign else ""
    if exp < -4 or exp >= 6:  # strconv: the shortest form decides with precision 6
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        return f"{prefix}{mantissa}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if exponent >= 0:
        return prefix + text + "0" * exponent
    point = len(text) + exponent
    if point > 0:
        return f"{prefix}{text[:point]}.{text[point:]}"
    return f"{prefix}0.{'0' * -point}{text}"


def go_value_string(value: Any) -> str:  # noqa: PLR0911 - one answer per type
    """Return ``fmt.Sprint(value)`` for one value."""
    if value is None:
        return "<nil>"
    if isinstance(value, GoTime):
        return value.text
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _float_g(value)
    if isinstance(value, (int, str)):
        return str(value)
    if isinstance(value, GoStruct):
        return "{" + " ".join(go_value_string(v) for v in value.fields.values()) + "}"
    if isinstance(value, Mapping):
        items = " ".join(f"{k}:{go_value_string(value[k])}" for k in sorted(value))
        return f"map[{items}]"
    if isinstance(value, Sequence):
        return "[" + " ".join(go_value_string(v) for v in value) + "]"
    return str(value)


def go_sprint(*args: Any) -> str:
    """``fmt.Sprint``: a space between operands when neither is a string."""
    out: list[str] = []
    for i, arg in enumerate(args):
        if i > 0 and not isinstance(arg, str) and not isinstance(args[i - 1], str):
            out.append(" ")
        out.append(go_value_string(arg))
    return "".join(out)


_VERB = re.compile(r"%([-+# 0]*)(\d+|\*)?(?:\.(\d*|\*))?([a-zA-Z%])")


def _quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    escaped = escaped.replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")
    return f'"{escaped}"'


def _bad(verb: str, arg: Any) -> str:
    return f"%!{verb}({go_type(arg)}={go_value_string(arg)})"


def _pad(text: str, flags: str, width: str | None) -> str:
    if not width:
        return text
    size = int(width)
    if "-" in flags:
        return text.ljust(size)
    if "0" in flags and text[:1] in "+-" and text[1:2].isdigit():
        return text[0] + text[1:].rjust(size - 1, "0")
    if "0" in flags and text[:1].isdigit():
        return text.rjust(size, "0")
    return text.rjust(size)


def _format_float(verb: str, flags: str, precision: str | None, arg: float) -> str:
    if math.isnan(arg) or math.isinf(arg):
        text = _float_g(arg)
        if "+" in flags and text == "NaN":
            text = "+NaN"
        return text
    sign = "+" if "+" in flags else (" " if " " in flags else "")
    if verb in "gG" and precision is None:
        text = _float_g(arg)
        if verb == "G":
            text = text.upper()
        return sign + text if sign and not text.startswith("-") else text
    spec = f"{sign}{'#' if '#' in flags else ''}.{precision if precision is not None else 6}{verb}"
    return format(arg, spec)


def _one(verb: str, flags: str, precision: str | None, arg: Any) -> str:  # noqa: PLR0911, PLR0912 - one branch per verb
    # Go's verbs for the types templates handle; a mismatch prints %!verb(type=value).
    if verb == "v":
        if isinstance(arg, float) and precision is not None:
            return _format_float("g", flags, precision, arg)
        return go_value_string(arg)
    if verb == "s":
        if isinstance(arg, str):
            return arg[: int(precision)] if precision else arg
        if isinstance(arg, (GoStruct, Mapping, list)):
            return go_value_string(arg)
        return _bad(verb, arg)
    if verb == "q":
        return _quote(arg) if isinstance(arg, str) else _bad(verb, arg)
    if verb == "t":
        return go_value_string(arg) if isinstance(arg, bool) else _bad(verb, arg)
    if verb in "dxXobc":
        if isinstance(arg, bool) or not isinstance(arg, int):
            if verb in "xX" and isinstance(arg, str):
                text = arg.encode().hex()
                return text.upper() if verb == "X" else text
            return _bad(verb, arg)
        if verb == "c":
            return chr(arg)
        sign = "+" if "+" in flags and arg >= 0 else ""
        return sign + format(arg, verb)
    if verb in "eEfFgG":
        if isinstance(arg, float):
            return _format_float(verb, flags, precision, arg)
        return _bad(verb, arg)
    return f"%!{verb}({go_type(arg)}={go_value_string(arg)})"


def go_sprintf(template: str, *args: Any) -> str:
    """``fmt.Sprintf`` for the verbs rule authors use (``%s %v %d %f %.2f %g %e %q %x``)."""
    out: list[str] = []
    pos = 0
    index = 0
    for match in _VERB.finditer(template):
        out.append(template[pos : match.start()])
        pos = match.end()
        flags, width, precision, verb = match.groups()
        if verb == "%":
            out.append("%")
            continue
        if index >= len(args):
            out.append(f"%!{verb}(MISSING)")
            continue
        arg = args[index]
        index += 1
        if precision == "":
            precision = "0"  # Go: "%.f" is precision 0
        out.append(_pad(_one(verb, flags, precision, arg), flags, width))
    out.append(template[pos:])
    if index < len(args):
        extra = ", ".join(f"{go_type(a)}={go_value_string(a)}" for a in args[index:])
        out.append(f"%!(EXTRA {extra})")
    return "".join(out)


def go_float_e(value: float) -> str:
    """``strconv.FormatFloat(v, 'e', -1, 64)``: how Prometheus writes an alert's value."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0e+00" if math.copysign(1, value) < 0 else "0e+00"
    sign, digits, exponent = Decimal(repr(value)).normalize().as_tuple()
    text = "".join(map(str, digits))
    exp = len(text) + int(exponent) - 1
    mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
    return f"{'-' if sign else ''}{mantissa}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
