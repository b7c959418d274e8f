"""The incidents package's public surface is its ``__all__``."""

from __future__ import annotations

import importlib
import sys

import pytest


@pytest.mark.parametrize("name", ["tradewarden.incidents"])
def test_public_names_are_exactly_all(name: str) -> None:
    module = importlib.import_module(name)
    exported = module.__all__
    assert sorted(set(exported)) == sorted(exported)
    for member in exported:
        assert hasattr(module, member), f"{name}.{member} is listed but missing"
    public = {
        attr
        for attr, value in vars(module).items()
        if not attr.startswith("_")
        and getattr(value, "__module__", name).startswith(name)
        and not isinstance(value, type(sys))
    }
    assert public <= set(exported)
