"""The package's public surface is its ``__all__`` and holds the shared contract's names."""

from __future__ import annotations

import sys

import tradewarden.runbooks as package

CONTRACT = {
    "Runbook",
    "Step",
    "Action",
    "load_runbooks",
    "RunbookLoadError",
    "RunbookCatalog",
    "StepResult",
    "RunbookRunner",
    "RunbooksConfig",
}


def test_every_listed_name_resolves_and_every_public_name_is_listed() -> None:
    exported = package.__all__
    assert sorted(set(exported)) == sorted(exported)
    assert all(hasattr(package, name) for name in exported)
    public = {
        name
        for name, value in vars(package).items()
        if not name.startswith("_")
        and getattr(value, "__module__", package.__name__).startswith(package.__name__)
        and not isinstance(value, type(sys))
    }
    assert public <= set(exported)
    assert set(exported) >= CONTRACT


def test_the_load_error_is_a_config_error_and_the_models_are_frozen() -> None:
    from tradewarden.errors import ConfigError

    assert issubclass(package.RunbookLoadError, ConfigError)
    for model in (package.Runbook, package.Step, package.Action):
        assert model.model_config.get("frozen") is True
        assert model.model_config.get("extra") == "forbid"
