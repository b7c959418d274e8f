"""``tradewarden kpis [--from --to] [--json]`` and ``tradewarden kpis weekly-review [--week]
[--output FILE]``: a running warden's KPIs against their targets, over its API."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from tradewarden.cli._context import (
    ApiKeyOption,
    ConfigOption,
    UrlOption,
    ask_warden,
    console,
    fail,
)
from tradewarden.kpis import format_duration

__all__ = ["kpis_app"]

kpis_app = typer.Typer(
    help="KPIs (MTTD, MTTA, MTTR, alert noise, acknowledgements, availability) vs targets.",
    invoke_without_command=True,
)
JsonOption = Annotated[bool, typer.Option("--json", help="Print the raw JSON.")]
_SIGNS = {"at_most": "≤", "below": "<", "above": ">", "at_least": "≥"}
_STATUS = {"met": "[green]met[/]", "not_met": "[red]not met[/]", "no_data": "[dim]no data[/]"}


def _shown(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    return format_duration(value) if unit == "seconds" else f"{value * 100:.2f} %"


def _table(result: dict[str, Any]) -> Table:
    window = result["window"]
    table = Table(
        "KPI", "value", "target", "samples", "status", title=f"{window['from']} → {window['to']}"
    )
    for kpi in result["kpis"]:
        table.add_row(
            kpi["name"],
            _shown(kpi["value"], kpi["unit"]),
            f"{_SIGNS.get(kpi['comparison'], '')} {_shown(kpi['target'], kpi['unit'])}",
            str(kpi["samples"]),
            _STATUS.get(kpi["status"], kpi["status"]),
        )
    return table


@kpis_app.callback()
def kpis(
    ctx: typer.Context,
    start: Annotated[
        str | None,
        typer.Option(
            "--from", help="Window start: RFC 3339 or Unix seconds (default: 7 days ago)."
        ),
    ] = None,
    end: Annotated[
        str | None,
        typer.Option("--to", help="Window end: RFC 3339 or Unix seconds (default: now)."),
    ] = None,
    as_json: JsonOption = False,
    config: ConfigOption = None,
    url: UrlOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """Show the KPIs of a window against their targets."""
    if ctx.invoked_subcommand is not None:
        return
    params = {k: v for k, v in (("from", start), ("to", end)) if v is not None}
    result = ask_warden("GET", "/v1/kpis", config, url, api_key, params=params)
    if as_json:
        console.print_json(data=result)
        return
    console.print(_table(result))
    counts = result["incidents"]
    alerts = result["alerts"]
    console.print(
        f"incidents: {counts['total']} ({counts['open']} open, "
        f"{counts['false_positive']} false positives); alerts notified: {alerts['notified']} "
        f"({alerts['unresolved']} unresolved)",
        markup=False,
        soft_wrap=True,
    )


@kpis_app.command("weekly-review")
def weekly_review(
    week: Annotated[
        str | None, typer.Option(help="ISO week, e.g. 2026-W48 (default: the last complete one).")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the Markdown to this file.")
    ] = None,
    config: ConfigOption = None,
    url: UrlOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """Print (or write) seed 004's weekly health check as Markdown."""
    params = {"format": "json", **({"week": week} if week else {})}
    result = ask_warden("GET", "/v1/kpis/weekly-review", config, url, api_key, params=params)
    markdown = str(result["markdown"])
    if output is None:
        console.print(markdown, markup=False, highlight=False, soft_wrap=True)
        return
    try:
        output.write_text(markdown, encoding="utf-8")
    except OSError as exc:
        raise fail(f"--output: cannot write {output}: {exc.strerror}") from None
    console.print(f"wrote the review of {result['week']} to {output}", markup=False, soft_wrap=True)
