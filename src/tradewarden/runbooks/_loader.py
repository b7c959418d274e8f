"""Load runbooks: the bundled set (package data) and the user's directories, all or nothing.

Every problem of every file is collected and raised as one :class:`RunbookLoadError`,
each line naming the file (and line), the runbook id, the step id and the field:

    runbooks/queues.yml:14: runbook high-backlog: step purge: kind: kind 'shell' is not allowed

A user runbook with the id of a bundled one replaces it; two runbooks with one id in the
bundled set, or among the user's directories, are an error.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from tradewarden.errors import ConfigError, NotFoundError
from tradewarden.runbooks._config import RunbooksConfig
from tradewarden.runbooks._model import Runbook
from tradewarden.series import Labels

__all__ = [
    "RunbookCatalog",
    "RunbookLoadError",
    "bundled_files",
    "load_runbooks",
    "parse_runbook",
]


class RunbookLoadError(ConfigError):
    """Runbooks that do not load; ``problems`` lists every one, each naming its place."""

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


def bundled_files() -> list[Path]:
    """Return the shipped runbook files, sorted by name."""
    folder = Path(str(files("tradewarden.runbooks") / "bundled"))
    return sorted(folder.glob("*.yml"))


def parse_runbook(text: str, source: str) -> Runbook:
    """Validate one runbook document; raise RunbookLoadError naming ``source``."""
    yaml = YAML(typ="rt")
    try:
        document = yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f":{mark.line + 1}" if mark is not None else ""
        raise RunbookLoadError(
            [f"{source}{line}: invalid YAML: {exc.problem or exc.context or 'invalid YAML'}"]
        ) from exc
    except YAMLError as exc:
        raise RunbookLoadError([f"{source}: invalid YAML: {exc}"]) from exc
    if not isinstance(document, dict):
        raise RunbookLoadError([f"{source}:1: a runbook file must be a mapping (id, title, ...)"])
    try:
        runbook = Runbook.model_validate(_plain(document))
    except ValidationError as exc:
        raise RunbookLoadError(_describe(exc, document, source)) from exc
    return runbook.with_source(source)


def _plain(node: Any) -> Any:
    if isinstance(node, dict):
        return {str(key): _plain(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_plain(item) for item in node]
    return node


def _describe(exc: ValidationError, document: Any, source: str) -> list[str]:
    rid = document.get("id")
    runbook = f"runbook {rid}" if isinstance(rid, str) and rid else "runbook (no id)"
    lines = []
    for error in exc.errors(include_input=False):
        loc = list(error["loc"])
        where = [runbook]
        node: Any = document
        kept: list[Any] = []
        line = _line(document, [])
        after_index = False
        for index, part in enumerate(loc):
            # The tag pydantic adds for a union member (``automated.0.sql.query``): right
            # after a list index, or a key the mapping does not have.
            tagged = isinstance(node, dict) and node.get("kind") == part
            if tagged and (after_index or part not in node):
                after_index = False
                continue
            after_index = isinstance(node, list)
            if isinstance(node, dict) and part in node:
                line = _line(node, [part]) or line
                node = node[part]
            elif isinstance(node, list) and isinstance(part, int) and part < len(node):
                line = _line(node, [part]) or line
                node = node[part]
                parent = kept[-1] if kept else None
                if parent in {"automated", "actions"} and index == 1:
                    item_id = node.get("id") if isinstance(node, dict) else None
                    label = "step" if parent == "automated" else "action"
                    where.append(f"{label} {item_id or f'#{part + 1}'}")
                    kept = []
                    continue
            else:
                node = None
            kept.append(part)
        field = ".".join(str(p) for p in kept) or ("kind" if len(where) > 1 else "(top level)")
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown field"
        place = f"{source}:{line}" if line is not None else source
        lines.append(f"{place}: {': '.join(where)}: {field}: {message}")
    return lines


def _line(node: Any, path: list[Any]) -> int | None:
    if not path:
        lc = getattr(node, "lc", None)
        return int(lc.line) + 1 if lc is not None and lc.line is not None else None
    part = path[0]
    if isinstance(node, CommentedMap) and part in node:
        return int(node.lc.key(part)[0]) + 1
    if isinstance(node, CommentedSeq) and isinstance(part, int) and part < len(node):
        return int(node.lc.item(part)[0]) + 1
    return None


@dataclass(frozen=True)
class _Source:
    name: str
    files: list[Path]
    label: str  # how a file of this source is named in messages


def _sources(config: RunbooksConfig, base_dir: Path, problems: list[str]) -> list[_Source]:
    sources = []
    if config.bundled:
        sources.append(_Source("bundled", bundled_files(), "bundled:"))
    user: list[Path] = []
    for directory in config.directories:
        folder = Path(directory) if Path(directory).is_absolute() else base_dir / directory
        if not folder.is_dir():
            problems.append(f"{folder}: runbooks.directories: no such directory")
            continue
        user.extend(sorted([*folder.glob("*.yml"), *folder.glob("*.yaml")]))
    sources.append(_Source("user", user, ""))
    return sources


def load_runbooks(config: RunbooksConfig, base_dir: Path) -> RunbookCatalog:
    """Load every runbook the config names; raise one RunbookLoadError listing all problems."""
    problems: list[str] = []
    loaded: dict[str, Runbook] = {}
    for source in _sources(config, base_dir, problems):
        seen: dict[str, str] = {}
        for path in source.files:
            name = f"{source.label}{path.name}" if source.label else str(path)
            try:
                runbook = parse_runbook(path.read_text(encoding="utf-8"), name)
            except RunbookLoadError as exc:
                problems.extend(exc.problems)
                continue
            except OSError as exc:
                problems.append(f"{name}: cannot read: {exc.strerror or exc}")
                continue
            if runbook.id in seen:
                problems.append(
                    f"{name}: runbook {runbook.id}: id: also defined in {seen[runbook.id]}"
                )
                continue
            seen[runbook.id] = name
            loaded[runbook.id] = runbook  # a user runbook replaces the bundled one
    if problems:
        raise RunbookLoadError(problems)
    return RunbookCatalog(loaded.values())


class RunbookCatalog:
    """The loaded runbooks, by id, and how an alert finds its runbook."""

    def __init__(self, runbooks: Iterable[Runbook] = ()) -> None:
        self._by_id = {runbook.id: runbook for runbook in sorted(runbooks, key=lambda r: r.id)}

    def __len__(self) -> int:
        return len(self._by_id)

    def all(self) -> list[Runbook]:
        """Return every runbook, by id."""
        return list(self._by_id.values())

    def get(self, runbook_id: str) -> Runbook:
        """Return the runbook ``runbook_id``; raise NotFoundError."""
        runbook = self._by_id.get(runbook_id)
        if runbook is None:
            raise NotFoundError(f"runbook {runbook_id!r} not found")
        return runbook

    def for_alert(
        self, labels: Mapping[str, str], annotations: Mapping[str, str]
    ) -> Runbook | None:
        """Return the alert's runbook: its ``runbook`` annotation, else the most specific
        ``applies_to`` match (alert name, then more matchers), ties by id."""
        named = annotations.get("runbook", "").strip()
        if named in self._by_id:
            return self._by_id[named]
        alert = Labels.of(dict(labels))
        best: tuple[int, Runbook] | None = None
        for runbook in self._by_id.values():
            score = runbook.applies_to.score(alert)
            if score is not None and (best is None or score > best[0]):
                best = (score, runbook)
        return best[1] if best is not None else None
