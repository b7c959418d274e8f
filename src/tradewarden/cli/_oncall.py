"""``tradewarden ack KEY --reason``, ``tradewarden escalations`` and ``tradewarden oncall
show | override | remove-override``: acknowledgements and on-call of a running warden, over
its API (so the warden audits them as the operator whose API key is used)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from urllib.parse import quote

import typer
from rich.table import Table

from tradewarden.cli._context import (
    ApiKeyOption,
    ConfigOption,
    UrlOption,
    ask_warden,
    console,
)

__all__ = ["oncall_app", "register_oncall_commands"]

oncall_app = typer.Typer(
    help="Who is on call, and overrides (one person stands in for another for a while).",
    no_args_is_help=True,
)
ReasonOption = Annotated[str, typer.Option(help="Why: written to the audit log (required).")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the raw JSON.")]


def ack(
    key: Annotated[str, typer.Argument(help="The alert's key (group key or fingerprint).")],
    reason: ReasonOption,
    config: ConfigOption = None,
    url: UrlOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """Acknowledge an alert: its escalation stops."""
    path = f"/v1/alerts/{quote(key, safe='')}/ack"
    result = ask_warden("POST", path, config, url, api_key, body={"reason": reason})
    escalation = result["escalation"]
    if result["changed"]:
        console.print(f"acknowledged: {escalation['title']}", soft_wrap=True, markup=False)
    else:
        console.print(
            f"unchanged, already acknowledged by {escalation['acknowledged_by']}",
            soft_wrap=True,
            markup=False,
        )


def escalations(
    status: Annotated[
        list[str] | None, typer.Option(help="Only this status (repeatable): open, ...")
    ] = None,
    as_json: JsonOption = False,
    config: ConfigOption = None,
    url: UrlOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """List escalations, most recently changed first."""
    params = [("status", value) for value in status or []]
    query = "?" + "&".join(f"{k}={quote(v)}" for k, v in params) if params else ""
    result = ask_warden("GET", "/v1/escalations" + query, config, url, api_key)
    if as_json:
        console.print_json(data=result)
        return
    table = Table("key", "status", "severity", "title", "next step", "due", "acknowledged by")
    for item in result:
        table.add_row(
            item["key"],
            item["status"],
            item["severity"],
            item["title"],
            str(item["next_step"]),
            item["due_at"] or "",
            item["acknowledged_by"] or "",
        )
    console.print(table)


@oncall_app.command("show")
def show(
    as_json: JsonOption = False,
    config: ConfigOption = None,
    url: UrlOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """Show who is on call in every layer now, and the overrides in force or to come."""
    result = ask_warden("GET", "/v1/oncall", config, url, api_key)
    if as_json:
        console.print_json(data=result)
        return
    table = Table("schedule", "layer", "on call")
    for layer in result["layers"]:
        table.add_row(layer["schedule"], layer["layer"], layer["on_call"] or "")
    console.print(table)
    for item in result["overrides"]:
        console.print(
            f"override {item['id']}: {item['replacement']} for {item['replaces']} in"
            f" {item['schedule']}/{item['layer'] or '*'} from {item['starts_at']} to"
            f" {item['ends_at']}",
            soft_wrap=True,
            markup=False,
        )


@oncall_app.command("override")
def override(
    schedule: Annotated[str, typer.Argument(help="The schedule.")],
    replaces: Annotated[str, typer.Option(help="Who is replaced.")],
    replacement: Annotated[str, typer.Option(help="Who stands in (of people:).")],
    start: Annotated[datetime, typer.Option("--from", help="From (ISO 8601, UTC if no offset).")],
    end: Annotated[datetime, typer.Option("--to", help="Until (ISO 8601, UTC if no offset).")],
    reason: ReasonOption,
    layer: Annotated[str | None, typer.Option(help="Only this layer (default: all).")] = None,
    config: ConfigOption = None,
    url: UrlOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """Put someone on call instead of someone else for a while."""
    body = {
        "schedule": schedule,
        "layer": layer,
        "replaces": replaces,
        "replacement": replacement,
        "starts_at": _aware(start),
        "ends_at": _aware(end),
        "reason": reason,
    }
    result = ask_warden("POST", "/v1/oncall/overrides", config, url, api_key, body=body)
    console.print(
        f"override {result['id']}: {replacement} for {replaces} until {result['ends_at']}",
        soft_wrap=True,
        markup=False,
    )


@oncall_app.command("remove-override")
def remove_override(
    override_id: Annotated[int, typer.Argument(help="The override's id (oncall show).")],
    reason: ReasonOption,
    config: ConfigOption = None,
    url: UrlOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """Remove an override."""
    path = f"/v1/oncall/overrides/{override_id}"
    ask_warden("DELETE", path, config, url, api_key, params={"reason": reason})
    console.print(f"override {override_id} removed")


def _aware(value: datetime) -> str:
    if value.tzinfo is None:
        return value.isoformat() + "+00:00"
    return value.isoformat()


def register_oncall_commands(app: typer.Typer) -> None:
    """Add ``ack``, ``escalations`` and the ``oncall`` group to ``app``."""
    app.command()(ack)
    app.command()(escalations)
    app.add_typer(oncall_app, name="oncall")
