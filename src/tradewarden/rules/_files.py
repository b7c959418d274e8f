"""Rule files in Prometheus's format: parsing and validation (``promtool check rules``).

Every problem names the file (and line), the group, the rule (1-based index and name) and
the parser's message; a file with any problem is rejected whole.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from tradewarden.errors import ConfigError
from tradewarden.rules._durations import format_duration, parse_duration_ms
from tradewarden.rules._expr import parse_expr
from tradewarden.rules._template import TemplateError, check_template

__all__ = [
    "GroupSpec",
    "RuleLoadError",
    "RuleProblem",
    "RuleSpec",
    "format_duration",
    "load_rule_files",
    "parse_duration_ms",
    "parse_rule_document",
    "parse_rule_text",
]

_METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_GROUP_FIELDS = frozenset({"name", "interval", "limit", "rules", "labels"})
_RULE_FIELDS = frozenset(
    {"record", "alert", "expr", "for", "keep_firing_for", "labels", "annotations"}
)


@dataclass(frozen=True, slots=True)
class RuleProblem:
    """One reason a rule file is rejected."""

    file: str
    message: str
    group: str | None = None
    rule_index: int | None = None  # 1-based, as promtool counts
    rule_name: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        parts = []
        if self.group is not None:
            parts.append(f"group {self.group!r}")
        if self.rule_index is not None:
            parts.append(f"rule {self.rule_index}")
        if self.rule_name:
            parts.append(repr(self.rule_name))
        context = ", ".join(parts)
        return f"{where}: {context}: {self.message}" if context else f"{where}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape the API answers with."""
        return {
            "file": self.file,
            "line": self.line,
            "group": self.group,
            "rule_index": self.rule_index,
            "rule": self.rule_name,
            "message": self.message,
        }


class RuleLoadError(ConfigError):
    """Rule files that do not load; ``problems`` lists every one found."""

    def __init__(self, problems: Sequence[RuleProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__("invalid rule files:\n" + "\n".join(f"  {p}" for p in self.problems))


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """One recording or alerting rule as written."""

    kind: Literal["record", "alert"]
    name: str
    expr: str
    for_ms: int = 0
    keep_firing_for_ms: int = 0
    labels: tuple[tuple[str, str], ...] = ()
    annotations: tuple[tuple[str, str], ...] = ()
    index: int = 1

    def to_dict(self) -> dict[str, Any]:
        """Return the rule as a rule file writes it."""
        out: dict[str, Any] = {self.kind: self.name, "expr": self.expr}
        if self.for_ms:
            out["for"] = format_duration(self.for_ms)
        if self.keep_firing_for_ms:
            out["keep_firing_for"] = format_duration(self.keep_firing_for_ms)
        if self.labels:
            out["labels"] = dict(self.labels)
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        return out


@dataclass(frozen=True, slots=True)
class GroupSpec:
    """One rule group of one file; ``interval_ms`` None means the configured default."""

    name: str
    file: str
    rules: tuple[RuleSpec, ...]
    interval_ms: int | None = None
    limit: int = 0
    labels: tuple[tuple[str, str], ...] = field(default=())


def _line(node: Any, key: Any = None) -> int | None:
    try:
        if key is not None and isinstance(node, CommentedMap):
            return int(node.lc.key(key)[0]) + 1
        if isinstance(node, (CommentedMap, CommentedSeq)):
            return int(node.lc.line) + 1
    except (AttributeError, KeyError, TypeError):
        return None
    return None


def _string_map(
    value: Any, what: str, problem: Any, *, key_kind: str
) -> tuple[tuple[str, str], ...]:
    if value is None:
        return ()
    if not isinstance(value, Mapping):
        problem(f"{what} must be a mapping of names to strings")
        return ()
    pairs: list[tuple[str, str]] = []
    for key, raw in value.items():
        text = (
            ""
            if raw is None
            else ("true" if raw is True else "false" if raw is False else str(raw))
        )
        if not isinstance(key, str) or not _LABEL_NAME.match(key) or key == "__name__":
            problem(f"invalid {key_kind} name: {key}")
            continue
        if isinstance(raw, (Mapping, list)):
            problem(f"invalid {key_kind} value of {key}: must be a string")
            continue
        pairs.append((key, text))
    return tuple(pairs)


def _duration(value: Any, what: str, problem: Any) -> int:
    if value is None:
        return 0
    try:
        return parse_duration_ms(str(value))
    except ValueError as exc:
        problem(f"{what}: {exc}")
        return 0


@dataclass(slots=True)
class _Found:
    """Collects the problems of one node (a rule or a group), each with its line."""

    source: str
    node: Any
    group: str | None = None
    index: int | None = None
    name: str | None = None
    problems: list[RuleProblem] = field(default_factory=list)

    def add(self, message: str, key: Any = None) -> None:
        line = _line(self.node, key) if key is not None else _line(self.node)
        self.problems.append(
            RuleProblem(self.source, message, self.group, self.index, self.name, line)
        )

    def at(self, key: str) -> Any:
        return lambda message: self.add(message, key)


def _check_kind(node: Mapping[str, Any], found: _Found) -> tuple[Literal["record", "alert"], str]:
    for key in node:
        if key not in _RULE_FIELDS:
            found.add(f"field {key} not found in type rulefmt.Rule", key)
    record, alert = node.get("record"), node.get("alert")
    if record is not None and alert is not None:
        found.add("only one of 'record' and 'alert' must be set")
    elif record is None and alert is None:
        found.add("one of 'record' or 'alert' must be set")
    if record is not None:
        name = str(record)
        for key in ("for", "keep_firing_for"):
            if node.get(key) is not None:
                found.add(f"invalid field '{key}' in recording rule", key)
        if node.get("annotations"):
            found.add("invalid field 'annotations' in recording rule", "annotations")
        if not _METRIC_NAME.match(name):
            found.add(f"invalid recording rule name: {name}", "record")
        return "record", name
    name = str(alert or "")
    if alert is not None and not name:
        found.add("field 'alert' must not be empty", "alert")
    return "alert", name


def _check_expr(node: Mapping[str, Any], found: _Found) -> str:
    expr = node.get("expr")
    if expr is None or str(expr).strip() == "":
        found.add("field 'expr' must be set in rule", "expr" if "expr" in node else None)
        return ""
    try:
        parse_expr(str(expr))
    except ValueError as exc:
        found.add(f"could not parse expression: {exc}", "expr")
    return str(expr)


def _check_templates(name: str, pairs: Iterable[tuple[str, str]], key: str, found: _Found) -> None:
    template_name = f"__alert_{name}"
    for _, text in pairs:
        try:
            check_template(text, template_name)
        except TemplateError as exc:
            found.add(str(exc), key)


def _rule(
    node: Any, index: int, group: str, source: str, problems: list[RuleProblem]
) -> RuleSpec | None:
    name_hint = None
    if isinstance(node, Mapping) and (node.get("alert") or node.get("record")) is not None:
        name_hint = str(node.get("alert") or node.get("record"))
    found = _Found(source, node, group, index, name_hint)
    if not isinstance(node, Mapping):
        found.add("a rule must be a mapping")
        problems.extend(found.problems)
        return None
    kind, name = _check_kind(node, found)
    expr = _check_expr(node, found)
    for_ms = _duration(node.get("for"), "for", found.at("for"))
    keep_ms = _duration(node.get("keep_firing_for"), "keep_firing_for", found.at("keep_firing_for"))
    labels = _string_map(node.get("labels"), "labels", found.at("labels"), key_kind="label")
    annotations = _string_map(
        node.get("annotations"), "annotations", found.at("annotations"), key_kind="annotation"
    )
    if kind == "alert":
        _check_templates(name, labels, "labels", found)
        _check_templates(name, annotations, "annotations", found)
    problems.extend(found.problems)
    if found.problems:
        return None
    return RuleSpec(kind, name, expr, for_ms, keep_ms, labels, annotations, index)


def _group(node: Any, source: str, seen: set[str], problems: list[RuleProblem]) -> GroupSpec | None:
    found = _Found(source, node)
    if not isinstance(node, Mapping):
        found.add("a group must be a mapping")
        problems.extend(found.problems)
        return None
    name = str(node.get("name") or "")
    if not name:
        found.add("Groupname must not be empty")
    elif name in seen:
        found.add(f'"{name}" is repeated in the same file')
    seen.add(name)
    found.group = name or None
    for key in node:
        if key not in _GROUP_FIELDS:
            found.add(f"field {key} not found in type rulefmt.RuleGroup", key)
    interval = node.get("interval")
    interval_ms = _duration(interval, "interval", found.at("interval")) if interval else 0
    limit = node.get("limit") or 0
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 0:
        found.add("limit must be a non-negative integer", "limit")
        limit = 0
    labels = _string_map(node.get("labels"), "labels", found.at("labels"), key_kind="label")
    raw_rules = node.get("rules") or []
    if not isinstance(raw_rules, list):
        found.add("'rules' must be a list", "rules")
        raw_rules = []
    problems.extend(found.problems)
    rules = [_rule(r, i, name, source, problems) for i, r in enumerate(raw_rules, start=1)]
    kept = tuple(r for r in rules if r is not None)
    return GroupSpec(name, source, kept, interval_ms or None, limit, labels)


def parse_rule_document(document: Any, source: str) -> list[GroupSpec]:
    """Validate a parsed rule file (``{"groups": [...]}``); raise :class:`RuleLoadError`."""
    if document is None:
        return []
    if not isinstance(document, Mapping):
        raise RuleLoadError([RuleProblem(source, "a rule file is a mapping with 'groups'")])
    top = _Found(source, document)
    for key in document:
        if key != "groups":
            top.add(f"field {key} not found in type rulefmt.RuleGroups", key)
    raw_groups = document.get("groups") or []
    if not isinstance(raw_groups, list):
        top.add("'groups' must be a list", "groups")
        raw_groups = []
    problems = top.problems
    seen: set[str] = set()
    groups = [_group(node, source, seen, problems) for node in raw_groups]
    if problems:
        raise RuleLoadError(problems)
    return [g for g in groups if g is not None]


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    return yaml


def parse_rule_text(text: str, source: str) -> list[GroupSpec]:
    """Parse and validate one rule file's text."""
    try:
        document = _yaml().load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark is not None else None
        raise RuleLoadError([RuleProblem(source, f"YAML: {exc.problem}", line=line)]) from None
    except YAMLError as exc:
        raise RuleLoadError([RuleProblem(source, f"YAML: {exc}")]) from None
    return parse_rule_document(document, source)


def load_rule_files(paths: Iterable[Path]) -> list[GroupSpec]:
    """Load every file; raise one :class:`RuleLoadError` listing the problems of all."""
    problems: list[RuleProblem] = []
    groups: list[GroupSpec] = []
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(RuleProblem(str(path), f"cannot read: {exc}"))
            continue
        try:
            groups.extend(parse_rule_text(text, str(path)))
        except RuleLoadError as exc:
            problems.extend(exc.problems)
    if problems:
        raise RuleLoadError(problems)
    return groups
