"""PromQL's functions, one implementation per name (see ``_values.Call``)."""

from __future__ import annotations

from collections.abc import Mapping

from tradewarden.promql._values import FunctionImpl

__all__ = ["FUNCTIONS"]

FUNCTIONS: Mapping[str, FunctionImpl] = {}
