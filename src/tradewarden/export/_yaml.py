"""YAML in and out for the exports (ruamel.yaml, the project's YAML library)."""

from __future__ import annotations

import io
from typing import Any

from ruamel.yaml import YAML

__all__ = ["dump_yaml", "load_yaml"]


def _yaml() -> YAML:
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.sort_base_mapping_type_on_output = False  # type: ignore[assignment]
    yaml.allow_unicode = True
    yaml.width = 4096  # long PromQL expressions stay on one line
    return yaml


def dump_yaml(document: Any) -> str:
    """Return ``document`` as block-style YAML, keys in insertion order."""
    stream = io.StringIO()
    _yaml().dump(document, stream)
    return stream.getvalue()


def load_yaml(text: str) -> Any:
    """Return the data of a YAML document."""
    return _yaml().load(text)
