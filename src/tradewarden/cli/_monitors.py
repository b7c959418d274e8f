"""``tradewarden monitor ...``: the monitors of a running warden, over its API."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import typer
from rich.table import Table
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from tradewarden.cli._context import (
    ApiKeyOption,
    ConfigOption,
    UrlOption,
    ask_warden,
    console,
    fail,
)

__all__ = ["monitor_app"]

monitor_app = typer.Typer(
    help="List, add and delete the monitors of a running warden.", no_args_is_help=True
)
ReasonOption = Annotated[str | None, typer.Option(help="Why: written to the audit log.")]


def _reason(reason: str | None) -> dict[str, str] | None:
    return {"reason": reason} if reason else None


@monitor_app.command("list")
def monitor_list(
    config: ConfigOption = None,
    url: UrlOption = None,
    api_key: ApiKeyOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the raw JSON.")] = False,
) -> None:
    """Show every monitor with its source (config file or API) and state."""
    monitors: list[dict[str, Any]] = ask_warden("GET", "/v1/monitors", config, url, api_key)
    if as_json:
        console.print_json(data=monitors)
        return
    table = Table("name", "kind", "source", "state", "interval s", "last error")
    for monitor in monitors:
        last = monitor.get("last_check") or {}
        table.add_row(
            str(monitor["name"]),
            str(monitor["kind"]),
            str(monitor["source"]),
            str(monitor["state"]),
            f"{monitor['interval_s']:g}",
            str(last.get("error") or ""),
        )
    console.print(table)


@monitor_app.command("add")
def monitor_add(
    file: Annotated[
        Path, typer.Option("--file", "-f", help="A YAML file with one monitor, as in the config.")
    ],
    reason: ReasonOption = None,
    config: ConfigOption = None,
    url: UrlOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """Create a monitor over the API; the warden stores it and starts checking it."""
    try:
        spec = YAML(typ="safe").load(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise fail(f"--file: cannot read {file}: {exc.strerror or exc}") from None
    except YAMLError as exc:
        raise fail(f"--file: {file} is not valid YAML: {exc}") from None
    if not isinstance(spec, dict):
        raise fail(f"--file: {file} must hold one monitor (a mapping with name and kind)")
    created = ask_warden(
        "POST", "/v1/monitors", config, url, api_key, body=spec, params=_reason(reason)
    )
    console.print(f"created monitor {created['name']} ({created['kind']}): {created['state']}")


@monitor_app.command("delete")
def monitor_delete(
    name: str,
    reason: ReasonOption = None,
    config: ConfigOption = None,
    url: UrlOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """Delete a monitor created over the API (the config file's are changed in the file)."""
    path = f"/v1/monitors/{quote(name, safe='')}"
    ask_warden("DELETE", path, config, url, api_key, params=_reason(reason))
    console.print(f"deleted monitor {name}")
