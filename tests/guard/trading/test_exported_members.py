"""The trading, state and risk packages export exactly their ``__all__``."""

from __future__ import annotations

import importlib
import sys

import pytest

PACKAGES = ["tradewarden.guard.risk", "tradewarden.guard.state", "tradewarden.guard.trading"]


@pytest.mark.parametrize("name", PACKAGES)
def test_every_listed_name_resolves_once(name: str) -> None:
    module = importlib.import_module(name)
    assert sorted(set(module.__all__)) == module.__all__
    for member in module.__all__:
        assert hasattr(module, member), f"{name}.{member} is listed but missing"


@pytest.mark.parametrize("name", PACKAGES)
def test_every_public_name_is_listed(name: str) -> None:
    module = importlib.import_module(name)
    public = {
        attr
        for attr, value in vars(module).items()
        if not attr.startswith("_")
        and getattr(value, "__module__", "tradewarden.guard").startswith("tradewarden.guard")
        and not isinstance(value, type(sys))
    }
    assert public <= set(module.__all__)
