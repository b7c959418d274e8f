"""The public surface of tradewarden.kpis is its ``__all__``, and every name resolves."""

from __future__ import annotations

from tradewarden import kpis


def test_every_exported_name_resolves_and_nothing_public_is_left_out() -> None:
    exported = kpis.__all__
    assert sorted(set(exported)) == sorted(exported)
    for name in exported:
        assert getattr(kpis, name) is not None
    public = {n for n in vars(kpis) if not n.startswith("_")} - {"annotations"}
    assert public == set(exported)
