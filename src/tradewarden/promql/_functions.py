"""PromQL's functions, one implementation per name (see ``_values.Call``).

The implementations live in ``_fn_range`` (range vectors), ``_fn_math`` (element-wise
maths, scalars, dates), ``_fn_labels`` (labels, sorting, ``absent``) and
``_fn_histogram`` (classic-bucket histograms); this module only joins them.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from tradewarden.promql._fn_histogram import HISTOGRAM_FUNCTIONS
from tradewarden.promql._fn_labels import LABEL_FUNCTIONS
from tradewarden.promql._fn_math import MATH_FUNCTIONS
from tradewarden.promql._fn_range import RANGE_FUNCTIONS
from tradewarden.promql._values import FunctionImpl

__all__ = ["FUNCTIONS"]

FUNCTIONS: Mapping[str, FunctionImpl] = MappingProxyType(
    {**RANGE_FUNCTIONS, **MATH_FUNCTIONS, **LABEL_FUNCTIONS, **HISTOGRAM_FUNCTIONS}
)
