"""``tradewarden maintenance list``: a running warden's maintenance windows, over its API
(the windows in force, which a reload may have changed since the file was last read)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from tradewarden.cli._context import (
    ApiKeyOption,
    ConfigOption,
    UrlOption,
    call_warden,
    console,
    load,
)
from tradewarden.rules._durations import format_duration

__all__ = ["maintenance_app"]

maintenance_app = typer.Typer(
    help="Maintenance windows (config file) of a running warden.", no_args_is_help=True
)


@maintenance_app.command("list")
def list_(
    as_json: Annotated[bool, typer.Option("--json", help="Print the raw JSON.")] = False,
    config: ConfigOption = None,
    url: UrlOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """List the windows: active now, next start and next end."""
    windows = call_warden("GET", "/v1/maintenance", load(config), url, api_key)
    if as_json:
        console.print_json(data=windows)
        return
    table = Table("name", "active", "schedule", "matchers", "next start", "next end", "comment")
    for w in windows:
        schedule = (
            f"{w['cron']} for {format_duration(int(w['duration_s'] * 1000))} ({w['timezone']})"
            if w["recurring"]
            else f"{w['starts_at']} .. {w['ends_at']}"
        )
        table.add_row(
            w["name"],
            "yes" if w["active"] else "no",
            schedule,
            w["matchers"],
            w["next_start"] or "-",
            w["next_end"] or "-",
            w["comment"],
        )
    console.print(table)
