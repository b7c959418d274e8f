"""``tradewarden runbook list|show|run|check|export``: the runbooks of a running warden over
its API (a run is audited there), and offline: validate the bundled and configured
runbooks (exit 2 naming file and step), or write them as Markdown pages."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import typer
from pydantic import ValidationError
from rich.markup import escape
from rich.table import Table

from tradewarden.cli._context import (
    ApiKeyOption,
    ConfigOption,
    UrlOption,
    call_warden,
    console,
    fail,
    load,
)
from tradewarden.errors import ConfigError
from tradewarden.rules.packs import pack_files
from tradewarden.runbooks import Runbook, RunbookCatalog, RunbookLoadError, load_runbooks
from tradewarden.runbooks._markdown import export_markdown, runbook_markdown

__all__ = ["runbook_app"]

runbook_app = typer.Typer(
    help="Runbooks: list, show and run them on a running warden; check and export offline.",
    no_args_is_help=True,
)
IdArgument = Annotated[str, typer.Argument(help="The runbook's id (tradewarden runbook list).")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the raw JSON.")]
_COLOURS = {"ok": "green", "skipped": "yellow", "failed": "red", "timeout": "red", "error": "red"}


def _path(runbook_id: str, suffix: str = "") -> str:
    return f"/v1/runbooks/{quote(runbook_id, safe='')}{suffix}"


def _pairs(values: list[str], option: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for value in values:
        name, sep, text = value.partition("=")
        if not sep or not name:
            raise fail(f"{option} {value!r}: expected name=value")
        pairs[name] = text
    return pairs


@runbook_app.command("list")
def list_(
    as_json: JsonOption = False,
    config: ConfigOption = None,
    url: UrlOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """List the warden's runbooks: id, title, the alerts they are for."""
    runbooks = call_warden("GET", "/v1/runbooks", load(config), url, api_key)
    if as_json:
        console.print_json(data=runbooks)
        return
    table = Table()
    table.add_column("id", no_wrap=True)  # the argument of show and run: never cut
    table.add_column("title")
    table.add_column("alerts")
    for item in runbooks:
        alerts = ", ".join(item["applies_to"]["alertnames"]) or "-"
        table.add_row(item["id"], escape(item["title"]), alerts)
    console.print(table)


@runbook_app.command("show")
def show(
    runbook_id: IdArgument,
    as_json: JsonOption = False,
    config: ConfigOption = None,
    url: UrlOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """Print one runbook as Markdown (or its JSON)."""
    body: dict[str, Any] = call_warden("GET", _path(runbook_id), load(config), url, api_key)
    if as_json:
        console.print_json(data=body)
        return
    fields = {key: value for key, value in body.items() if key != "source"}
    try:
        text = runbook_markdown(Runbook.model_validate(fields))
    except ValidationError:  # a newer warden's runbook: its JSON is still readable
        text = json.dumps(body, indent=2)
    console.print(text, markup=False, highlight=False, soft_wrap=True)


@runbook_app.command("run")
def run(
    runbook_id: IdArgument,
    reason: Annotated[str, typer.Option(help="Why: written to the audit log (required).")],
    label: Annotated[
        list[str] | None, typer.Option("--label", "-l", help="An alert label, name=value.")
    ] = None,
    annotation: Annotated[
        list[str] | None, typer.Option("--annotation", help="An alert annotation, name=value.")
    ] = None,
    as_json: JsonOption = False,
    config: ConfigOption = None,
    url: UrlOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """Run the runbook's read-only automated steps now for these labels; print each result."""
    body = {
        "labels": _pairs(label or [], "--label"),
        "annotations": _pairs(annotation or [], "--annotation"),
        "reason": reason,
    }
    answer = call_warden("POST", _path(runbook_id, "/run"), load(config), url, api_key, body=body)
    if as_json:
        console.print_json(data=answer)
        return
    table = Table("step", "kind", "status", "ms", "result")
    for result in answer["results"]:
        status = result["status"]
        shown = result["error"] or json.dumps(result["output"], default=str)
        table.add_row(
            result["step_id"],
            result["kind"],
            f"[{_COLOURS.get(status, 'white')}]{status}[/]",
            f"{result['duration_ms']:.0f}",
            escape(shown if len(shown) <= 300 else shown[:297] + "..."),
        )
    console.print(table)


def _offline_catalog(config: Path | None) -> RunbookCatalog:
    loaded = load(config)
    base = loaded.config_path.parent if loaded.config_path is not None else Path.cwd()
    try:
        return load_runbooks(loaded.config.runbooks, base)
    except RunbookLoadError as exc:
        for problem in exc.problems:
            console.print(problem, markup=False, highlight=False, soft_wrap=True)
        raise fail(
            f"{len(exc.problems)} problem(s) in the runbooks", ConfigError.exit_code
        ) from None


@runbook_app.command("check")
def check(config: ConfigOption = None) -> None:
    """Validate the bundled and configured runbooks offline (exit 2 naming file and step)."""
    catalog = _offline_catalog(config)
    bundled = sum(1 for runbook in catalog.all() if runbook.source.startswith("bundled:"))
    console.print(
        f"runbooks ok: {len(catalog)} ({bundled} bundled, {len(catalog) - bundled} yours)"
    )


@runbook_app.command("export")
def export(
    markdown: Annotated[
        Path, typer.Option("--markdown", help="Write a Markdown page per runbook and pack here.")
    ],
    config: ConfigOption = None,
) -> None:
    """Write the runbooks (bundled and configured) and the rule packs' alert pages as Markdown.

    ``tradewarden runbook export --markdown docs/runbooks`` regenerates the repository's
    pages, which the packs' ``runbook_url`` annotations link.
    """
    catalog = _offline_catalog(config)
    try:
        written = export_markdown(catalog, pack_files(), markdown)
    except (OSError, ValueError) as exc:
        raise fail(f"cannot write {markdown}: {exc}") from None
    console.print(f"wrote {len(written)} pages to {markdown}")
