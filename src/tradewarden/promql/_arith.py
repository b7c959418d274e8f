"""Float arithmetic with Go's semantics (division by zero, ``math.Mod``, ``math.Pow``)."""

from __future__ import annotations

import math
import operator
from collections.abc import Callable

__all__ = ["ARITHMETIC", "COMPARISONS", "go_div", "go_mod", "go_pow"]

_INF = math.inf
_NAN = math.nan


def go_div(a: float, b: float) -> float:
    """``a / b`` as IEEE 754 (and Go) define it: x/0 is ±Inf, 0/0 is NaN."""
    try:
        return a / b
    except ZeroDivisionError:
        if a == 0 or math.isnan(a):
            return _NAN
        return math.copysign(_INF, a) * math.copysign(1.0, b)


def go_mod(a: float, b: float) -> float:
    """Go's ``math.Mod``: the result has the sign of ``a``; NaN for a zero divisor."""
    try:
        return math.fmod(a, b)
    except ValueError:
        return _NAN


def _odd_int(y: float) -> bool:
    return math.isfinite(y) and y == math.floor(y) and math.fmod(y, 2) != 0


def go_pow(x: float, y: float) -> float:  # noqa: PLR0911 - Go's special cases
    """Go's ``math.Pow`` (NaN for a negative base with a fractional exponent, ±Inf on
    overflow or for a zero base with a negative exponent)."""
    if y == 0 or x == 1:
        return 1.0
    try:
        return math.pow(x, y)
    except OverflowError:
        if x < 0 and _odd_int(y):
            return -_INF
        return _INF
    except ValueError:
        if x == 0:
            if y < 0:
                return math.copysign(_INF, x) if _odd_int(y) else _INF
            return 0.0
        return _NAN


def _atan2(a: float, b: float) -> float:
    return math.atan2(a, b)


# The operator module's functions are the plain float operators, called from C.
ARITHMETIC: dict[str, Callable[[float, float], float]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": go_div,
    "%": go_mod,
    "^": go_pow,
    "atan2": _atan2,
}

COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    "<": operator.lt,
    ">=": operator.ge,
    "<=": operator.le,
}
