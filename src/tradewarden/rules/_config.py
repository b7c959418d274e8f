"""The config file's ``rules:`` section, and the rule groups it names (files, shipped
packs, the generated defaults for monitors), loaded all-or-nothing."""

from __future__ import annotations

import glob
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from tradewarden.clock import Clock
from tradewarden.probes import MonitorSpec
from tradewarden.rules._expr import engine_query
from tradewarden.rules._files import (
    GroupSpec,
    RuleLoadError,
    RuleProblem,
    load_rule_files,
    parse_rule_document,
)
from tradewarden.rules._manager import RuleManager, RuleManagerOptions
from tradewarden.rules._sink import AlertSink
from tradewarden.series._config import Seconds

__all__ = [
    "DEFAULT_RULES_SOURCE",
    "MonitorRules",
    "RulesConfig",
    "build_rule_manager",
    "load_rule_groups",
    "rule_file_paths",
]

# The ``file`` of the generated monitor rules (no file on disk holds them).
DEFAULT_RULES_SOURCE = "<tradewarden:monitors>"


class RulesConfig(BaseModel):
    """Which rules run and how (Prometheus's ``rule_files`` and evaluation settings)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Rule files or globs (``rules/*.yml``), relative to the config file's folder.
    files: tuple[str, ...] = ()
    # The shipped packs to load by name (``api``, ``queues``, ...); absent: all of them.
    packs: tuple[str, ...] | None = None
    # A MonitorDown (and HeartbeatMissed) rule for every monitor.
    default_rules: bool = True
    evaluation_interval: Seconds = Field(default=15.0, gt=0, le=86_400)
    # A group re-evaluates when samples it reads arrive, at most once per this window.
    debounce: Seconds = Field(default=0.05, ge=0, le=60)
    # Firing alerts are handed off again this often (Prometheus: --rules.alert.resend-delay).
    resend_delay: Seconds = Field(default=60.0, gt=0, le=86_400)
    # A restart restores the for-clocks of alerts seen active within this
    # (Prometheus: --rules.alert.for-outage-tolerance).
    outage_tolerance: Seconds = Field(default=3600.0, ge=0)
    # ... and never fires a restored alert sooner than this (--rules.alert.for-grace-period);
    # a rule whose for is shorter starts its clock again. Prometheus's default is 10 m,
    # which resets every for of 10 m or less (most rules); the warden's snapshot keeps the
    # series a restored clock rests on, so 1 m is enough to let fresh samples arrive.
    for_grace_period: Seconds = Field(default=60.0, ge=0)
    external_labels: dict[str, str] = Field(default_factory=dict)
    external_url: str = ""

    @field_validator("packs")
    @classmethod
    def _known_packs(cls, packs: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if packs is None:
            return None
        from tradewarden.rules.packs import pack_names

        known = pack_names()
        unknown = [name for name in packs if name not in known]
        if unknown:
            raise ValueError(f"unknown pack(s) {', '.join(unknown)}; known: {', '.join(known)}")
        return packs

    @model_validator(mode="after")
    def _label_names(self) -> Self:
        for name in self.external_labels:
            if not name.isidentifier() or name.startswith("__"):
                raise ValueError(f"external_labels: invalid label name {name!r}")
        return self


def rule_file_paths(config: RulesConfig, base_dir: Path) -> list[Path]:
    """The packs' files then the configured files, globs expanded (sorted, each once).

    A glob may match nothing; a plain path that does not exist is a problem.
    """
    from tradewarden.rules.packs import pack_files

    paths = [p for p in pack_files() if config.packs is None or p.stem in config.packs]
    problems: list[RuleProblem] = []
    for pattern in config.files:
        full = pattern if Path(pattern).is_absolute() else str(base_dir / pattern)
        if glob.has_magic(full):
            # Path.glob takes no absolute patterns; glob.glob does.
            paths.extend(Path(p) for p in sorted(glob.glob(full)))  # noqa: PTH207
        elif Path(full).is_file():
            paths.append(Path(full))
        else:
            problems.append(RuleProblem(full, "rules.files: no such file"))
    if problems:
        raise RuleLoadError(problems)
    seen: set[Path] = set()
    unique = []
    for path in paths:
        if path.resolve() not in seen:
            seen.add(path.resolve())
            unique.append(path)
    return unique


def load_rule_groups(
    config: RulesConfig, base_dir: Path, monitors: Iterable[MonitorSpec] = ()
) -> list[GroupSpec]:
    """Every group the config names; raise one :class:`RuleLoadError` listing all problems."""
    groups = load_rule_files(rule_file_paths(config, base_dir))
    specs = list(monitors)
    if config.default_rules and specs:
        from tradewarden.rules._defaults import default_rule_file

        groups += parse_rule_document(default_rule_file(specs), DEFAULT_RULES_SOURCE)
    return groups


class MonitorRules:
    """The generated default rules, kept in step with the monitors that run (those of the
    config file and those created over the API): rebuilt only when the monitors change."""

    def __init__(self, config: RulesConfig, monitors: Callable[[], Sequence[MonitorSpec]]):
        self._enabled = config.default_rules
        self._monitors = monitors
        self._last: list[MonitorSpec] | None = None
        self._groups: list[GroupSpec] = []

    def __call__(self) -> list[GroupSpec]:
        """The default rule groups for the monitors now (the same list while unchanged)."""
        if not self._enabled:
            return self._groups
        specs = sorted(self._monitors(), key=lambda spec: spec.name)
        if specs != self._last:
            from tradewarden.rules._defaults import default_rule_file

            self._last = specs
            self._groups = (
                parse_rule_document(default_rule_file(specs), DEFAULT_RULES_SOURCE) if specs else []
            )
        return self._groups


def build_rule_manager(
    store: Any, clock: Clock, config: RulesConfig, sink: AlertSink | None = None
) -> RuleManager:
    """The manager over the embedded store (read and written) and an engine on it."""
    from tradewarden.promql import Engine

    return RuleManager(
        query=engine_query(Engine(store)),
        storage=store,
        appender=store,
        clock=clock,
        sink=sink,
        options=RuleManagerOptions(
            evaluation_interval_ms=int(config.evaluation_interval * 1000),
            debounce_s=config.debounce,
            resend_delay_ms=int(config.resend_delay * 1000),
            outage_tolerance_ms=int(config.outage_tolerance * 1000),
            for_grace_period_ms=int(config.for_grace_period * 1000),
            external_labels=dict(config.external_labels),
            external_url=config.external_url,
        ),
    )
