"""The rule files a Prometheus needs to alert as the warden does: the shipped packs, the
default rules of the configured monitors, and the user's own rule files.

Files are written as they are (the packs keep their comments); written to one stream they
are merged into one file, which Prometheus allows as long as group names differ.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tradewarden.errors import ConfigError
from tradewarden.export._yaml import dump_yaml, load_yaml
from tradewarden.probes import MonitorSpec
from tradewarden.rules import load_rule_files
from tradewarden.rules._defaults import default_rule_file
from tradewarden.rules.packs import RUNBOOK_PREFIX, pack_files

__all__ = ["RuleFile", "merge_rule_files", "prometheus_rule_files"]

DEFAULTS_NAME = "tradewarden-monitors.yml"


@dataclass(frozen=True)
class RuleFile:
    """One rule file to write: a relative path and its text."""

    name: str
    text: str


def _rebase(url: str, runbook_base: str) -> str:
    return runbook_base.rstrip("/") + "/" + url.removeprefix(RUNBOOK_PREFIX)


def _with_runbook_base(text: str, runbook_base: str | None) -> str:
    # The packs quote every runbook_url the same way: a text replacement keeps comments.
    if not runbook_base:
        return text
    return text.replace(
        f'runbook_url: "{RUNBOOK_PREFIX}', f'runbook_url: "{_rebase(RUNBOOK_PREFIX, runbook_base)}'
    )


def _user_file(path: Path) -> str:
    # The warden's own loader runs promtool's checks: a file Prometheus would refuse is
    # refused here, naming file, group, rule and the problem.
    load_rule_files([path])
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the rule file ({exc.strerror})") from exc


def prometheus_rule_files(
    monitors: Iterable[MonitorSpec],
    user_files: Sequence[Path],
    *,
    packs: Sequence[str] | None = None,
    default_rules: bool = True,
    runbook_base: str | None = None,
) -> list[RuleFile]:
    """Return the packs (``packs/<area>.yml``; ``packs`` None: all), the monitors' defaults
    (``tradewarden-monitors.yml``) and the user's files (``user/<name>``)."""
    files = [
        RuleFile(f"packs/{path.name}", _with_runbook_base(path.read_text("utf-8"), runbook_base))
        for path in pack_files()
        if packs is None or path.stem in packs
    ]
    specs = list(monitors)
    generated = default_rule_file(specs)
    if runbook_base:
        for group in generated["groups"]:
            for rule in group["rules"]:
                url = rule["annotations"]["runbook_url"]
                rule["annotations"]["runbook_url"] = _rebase(url, runbook_base)
    if default_rules and specs:
        header = "# Generated from the config file's monitors.\n"
        files.append(RuleFile(DEFAULTS_NAME, header + dump_yaml(generated)))
    taken: set[str] = set()
    for path in user_files:
        name = f"user/{path.name}"
        counter = 1
        while name in taken:
            counter += 1
            name = f"user/{path.stem}-{counter}{path.suffix}"
        taken.add(name)
        files.append(RuleFile(name, _user_file(path)))
    return files


def merge_rule_files(files: Sequence[RuleFile]) -> str:
    """Return one rule file holding every group of ``files``; group names must differ."""
    groups: list[Any] = []
    origin: dict[str, str] = {}
    for file in files:
        for group in load_yaml(file.text).get("groups") or []:
            name = str(group.get("name"))
            if name in origin:
                raise ConfigError(
                    f"rule group {name!r} is in both {origin[name]} and {file.name}: "
                    "write the files to a directory (--out) or rename one"
                )
            origin[name] = file.name
            groups.append(group)
    header = "# Rule files written by `tradewarden export prometheus-rules`, merged.\n"
    return header + dump_yaml({"groups": groups})
