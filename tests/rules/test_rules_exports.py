"""tradewarden.rules' public surface is exactly its __all__, and every name resolves."""

from __future__ import annotations

import sys

from tradewarden import rules


def test_all_names_resolve() -> None:
    assert sorted(set(rules.__all__)) == sorted(rules.__all__)
    for member in rules.__all__:
        assert hasattr(rules, member), member


def test_public_names_are_listed() -> None:
    public = {
        attr
        for attr, value in vars(rules).items()
        if not attr.startswith("_")
        and getattr(value, "__module__", "tradewarden.rules").startswith("tradewarden.rules")
        and not isinstance(value, type(sys))
    }
    assert public <= set(rules.__all__)
