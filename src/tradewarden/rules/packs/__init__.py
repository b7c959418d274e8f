"""The rule packs shipped with tradewarden: Prometheus rule files, one per area.

``pack_files()`` are the packs loaded by default and exported; ``seed_files()`` are the
seeds' own rule files, verbatim, kept to prove they load and evaluate (the packs carry
the corrected rules, each correction noted in a comment beside it).

Every alert's ``runbook_url`` is ``docs/runbooks/<pack>.md#<alertname lower-cased>``,
relative to the project's documentation; ``runbook_urls()`` lists them.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

__all__ = ["RUNBOOK_PREFIX", "pack_files", "pack_names", "runbook_url", "seed_files"]

RUNBOOK_PREFIX = "docs/runbooks/"


def _folder() -> Path:
    # The packs are plain files next to this module (hatchling ships them in the wheel),
    # so the resource folder is a real directory that loaders and promtool can read.
    return Path(str(files(__name__)))


def _yaml_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.yml"))


def pack_files() -> list[Path]:
    """Return the shipped rule packs, sorted by name."""
    return _yaml_files(_folder())


def seed_files() -> list[Path]:
    """Return the seeds' verbatim rule files, sorted by name."""
    return _yaml_files(_folder() / "seeds")


def pack_names() -> list[str]:
    """Return the packs' area names (``api``, ``queues``, ...)."""
    return [path.stem for path in pack_files()]


def runbook_url(pack: str, alert: str) -> str:
    """Return the runbook link of ``alert`` in ``pack``, as the packs write it."""
    return f"{RUNBOOK_PREFIX}{pack}.md#{alert.lower()}"
