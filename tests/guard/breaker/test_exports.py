"""The breaker package's public surface is its ``__all__`` (ruff keeps it sorted)."""

from __future__ import annotations

from tradewarden.guard import breaker


def test_all_is_unique_and_resolves() -> None:
    assert len(set(breaker.__all__)) == len(breaker.__all__)
    for name in breaker.__all__:
        assert hasattr(breaker, name), name
