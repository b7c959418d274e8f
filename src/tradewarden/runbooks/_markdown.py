"""Runbooks as Markdown: one page per runbook, and one page per rule pack whose sections
are the anchors the packs' ``runbook_url`` annotations point at.

``docs/runbooks/`` in the repository is this module's output for the bundled runbooks
(``tradewarden runbook export --markdown docs/runbooks``); a test keeps it up to date.
The packs link ``docs/runbooks/<pack>.md#<alertname lower-cased>``: each pack page has a
heading per alert (GitHub's anchor for ``## HighQueueBacklog`` is ``#highqueuebacklog``,
and an explicit ``<a id>`` serves other renderers) that leads to the alert's runbook.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from tradewarden.runbooks._loader import RunbookCatalog
from tradewarden.runbooks._model import (
    Action,
    HttpStep,
    ProbeStep,
    PromqlStep,
    RedisStep,
    Runbook,
    SqlStep,
    Step,
)

__all__ = ["PackAlert", "export_markdown", "pack_alerts", "pack_markdown", "runbook_markdown"]

# The default rules' page (rules/_defaults.py links docs/runbooks/monitors.md#...).
MONITORS_PAGE = "monitors"
_DEFAULT_ALERTS: tuple[tuple[str, str], ...] = (
    ("MonitorDown", "A monitor failed its checks and went DOWN (every monitor has this rule)."),
    ("HeartbeatMissed", "A heartbeat monitor got no ping within its period plus grace."),
)


@dataclass(frozen=True)
class PackAlert:
    """One alerting rule of a pack, as its page shows it."""

    name: str
    expr: str
    severity: str
    summary: str
    runbook: str | None


def pack_alerts(path: Path) -> list[PackAlert]:
    """Return the alerting rules of the rule file ``path``, in file order."""
    document: Any = YAML(typ="safe").load(path.read_text(encoding="utf-8")) or {}
    alerts = []
    for group in document.get("groups", []):
        for rule in group.get("rules", []):
            if "alert" not in rule:
                continue
            annotations = rule.get("annotations") or {}
            alerts.append(
                PackAlert(
                    name=str(rule["alert"]),
                    expr=" ".join(str(rule["expr"]).split()),
                    severity=str((rule.get("labels") or {}).get("severity", "")),
                    summary=str(annotations.get("summary", "")),
                    runbook=annotations.get("runbook"),
                )
            )
    return alerts


def _lines(items: Iterable[str], numbered: bool) -> list[str]:
    out = []
    for index, item in enumerate(items, start=1):
        marker = f"{index}." if numbered else "-"
        pad = " " * (len(marker) + 1)
        first, *rest = item.strip().splitlines() or [""]
        out.append(f"{marker} {first}")
        out.extend(f"{pad}{line}" if line else "" for line in rest)
    return out


def _code(text: str, language: str = "") -> list[str]:
    return [f"```{language}", text.strip(), "```"]


def _step_body(step: Step) -> list[str]:  # noqa: PLR0911 - one return per step kind
    if isinstance(step, PromqlStep):
        return [
            "PromQL, an instant query on the warden's series:",
            "",
            *_code(step.query, "promql"),
        ]
    if isinstance(step, HttpStep):
        headers = ", ".join(f"`{k}` from `${v}`" for k, v in step.headers_env.items())
        extra = f" (headers: {headers})" if headers else ""
        return [f"HTTP `{step.method} {step.url}`{extra}."]
    if isinstance(step, SqlStep):
        lines = [
            f"SQL on the connection `{step.connection}`, in a read-only transaction:",
            "",
            *_code(step.query, "sql"),
        ]
        if step.params:
            shown = ", ".join(f"`:{k}` = `{v}`" for k, v in step.params.items())
            lines += ["", f"Parameters: {shown}."]
        return lines
    if isinstance(step, RedisStep):
        command = " ".join(step.command)
        return [f"Redis on the connection `{step.connection}`: `{command}`."]
    if isinstance(step, ProbeStep):
        if step.monitor is not None:
            return [f"Runs the monitor `{step.monitor}` now (its check, once)."]
        kind = step.probe.kind if step.probe is not None else "?"
        return [f"Runs an inline `{kind}` probe once."]
    return [f"A `{step.kind}` step."]  # pragma: no cover - every kind is handled above


def _action_line(action: Action) -> str:
    params = ", ".join(f"{k}: `{v}`" for k, v in action.params.items())
    how = (
        "may run unattended if `runbooks.allow_automatic` lists it"
        if action.automatic
        else ("a button: an operator presses it")
    )
    suffix = f" ({params})" if params else ""
    return f"- **{action.title}**: `{action.action}`{suffix}; {how}."


def runbook_markdown(runbook: Runbook) -> str:
    """Return ``runbook`` as a Markdown page."""
    out = [f"# {runbook.title}", "", runbook.summary, ""]
    out.append(f"- Runbook id: `{runbook.id}`")
    if runbook.applies_to.alertnames:
        names = ", ".join(f"`{name}`" for name in runbook.applies_to.alertnames)
        out.append(f"- Alerts: {names}")
    if runbook.applies_to.matchers:
        matchers = ", ".join(f"`{m}`" for m in runbook.applies_to.matchers)
        out.append(f"- Matching labels: {matchers}")
    out.append(f"- Any alert with the annotation `runbook: {runbook.id}`")
    out.append("")
    sections: Sequence[tuple[str, Sequence[str], bool]] = (
        ("Symptoms", runbook.symptoms, False),
        ("Diagnosis", runbook.diagnosis, True),
        ("Resolution", runbook.resolution, True),
        ("Escalation", runbook.escalation, False),
    )
    for title, items, numbered in sections:
        if items:
            out += [f"## {title}", "", *_lines(items, numbered), ""]
    if runbook.automated:
        out += [
            "## Automated diagnosis",
            "",
            (
                "tradewarden runs these read-only steps when an incident opens for the alert, "
                f"and on demand: `tradewarden runbook run {runbook.id} --label name=value ...` "
                f"(`POST /v1/runbooks/{runbook.id}/run`). `{{{{ labels.x }}}}` is the alert's "
                "label x; a step whose label or connection is missing is skipped."
            ),
            "",
        ]
        for step in runbook.automated:
            out += [f"### `{step.id}`: {step.title}", "", *_step_body(step), ""]
    if runbook.actions:
        out += ["## Actions", "", *(_action_line(a) for a in runbook.actions), ""]
    return "\n".join(out).rstrip("\n") + "\n"


def pack_markdown(
    pack: str, alerts: Sequence[PackAlert], catalog: RunbookCatalog, *, intro: str
) -> str:
    """Return the page of rule pack ``pack``: a section per alert, linking its runbook."""
    out = [
        f"# Alerts: {pack}",
        "",
        intro,
        "",
    ]
    for alert in alerts:
        out += [f'<a id="{alert.name.lower()}"></a>', "", f"## {alert.name}", ""]
        if alert.summary:
            out.append(f"- Summary: `{alert.summary}`")
        if alert.severity:
            out.append(f"- Severity: {alert.severity}")
        if alert.expr:
            out.append(f"- Expression: `{alert.expr}`")
        runbook = catalog.for_alert(
            {"alertname": alert.name}, {"runbook": alert.runbook} if alert.runbook else {}
        )
        if runbook is not None:
            out.append(f"- Runbook: [{runbook.title}]({runbook.id}.md): {runbook.summary}")
        else:
            out.append("- Runbook: none yet.")
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


def _index(catalog: RunbookCatalog, packs: Mapping[str, Sequence[PackAlert]]) -> str:
    out = [
        "# Runbooks",
        "",
        (
            "Generated by `tradewarden runbook export --markdown docs/runbooks` from the "
            "bundled runbooks (`src/tradewarden/runbooks/bundled/`) and the rule packs "
            "(`src/tradewarden/rules/packs/`); edit those, not these pages."
        ),
        "",
        "## Runbooks",
        "",
    ]
    out += [f"- [{r.title}]({r.id}.md): {r.summary}" for r in catalog.all()]
    out += ["", "## Alerts by pack", ""]
    for pack, alerts in packs.items():
        names = ", ".join(f"[{a.name}]({pack}.md#{a.name.lower()})" for a in alerts)
        out.append(f"- [{pack}]({pack}.md): {names}")
    return "\n".join(out) + "\n"


def export_markdown(
    catalog: RunbookCatalog, pack_files: Iterable[Path], directory: Path
) -> list[Path]:
    """Write every runbook's page, every pack's page, the default rules' page and an index
    (``README.md``) into ``directory``; return the paths written, sorted."""
    directory.mkdir(parents=True, exist_ok=True)
    pages: dict[str, str] = {}
    for runbook in catalog.all():
        pages[f"{runbook.id}.md"] = runbook_markdown(runbook)
    packs: dict[str, list[PackAlert]] = {}
    for path in sorted(pack_files):
        if f"{path.stem}.md" in pages:
            raise ValueError(f"runbook {path.stem!r} has the name of a rule pack's page")
        packs[path.stem] = pack_alerts(path)
        intro = f"The alerts of the rule pack `{path.name}` and their runbooks."
        pages[f"{path.stem}.md"] = pack_markdown(path.stem, packs[path.stem], catalog, intro=intro)
    defaults = [PackAlert(name, "", "critical", summary, None) for name, summary in _DEFAULT_ALERTS]
    packs[MONITORS_PAGE] = defaults
    pages[f"{MONITORS_PAGE}.md"] = pack_markdown(
        MONITORS_PAGE,
        defaults,
        catalog,
        intro="The alerts every monitor gets by default, and their runbooks.",
    )
    pages["README.md"] = _index(catalog, packs)
    written = []
    for name, text in sorted(pages.items()):
        target = directory / name
        target.write_text(text, encoding="utf-8")
        written.append(target)
    return written
