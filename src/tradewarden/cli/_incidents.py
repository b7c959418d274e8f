"""``tradewarden incident list|show|open|ack|note|status|resolve|report|action``: the
incidents of a running warden, over its API (so every change is audited and on the
timeline)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode

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
from tradewarden.incidents import Status, format_duration
from tradewarden.notify import Severity

__all__ = ["incident_app"]

incident_app = typer.Typer(
    help=(
        "Incidents: list, show, open, acknowledge, annotate, move, resolve, report, press a"
        " runbook action."
    ),
    no_args_is_help=True,
)
IdArgument = Annotated[str, typer.Argument(help="The incident's id, e.g. INC-2026-0042.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the raw JSON.")]
ReasonOption = Annotated[str | None, typer.Option(help="Why (in the audit log).")]


def _path(incident_id: str, suffix: str = "") -> str:
    return f"/v1/incidents/{quote(incident_id, safe='')}{suffix}"


def _print(text: str) -> None:
    console.print(text, markup=False, highlight=False, soft_wrap=True)


def _summary(incident: dict[str, Any]) -> str:
    return f"{incident['id']} {incident['severity']} {incident['status']}: {incident['title']}"


@incident_app.command("list")
def list_(
    status: Annotated[
        list[Status] | None, typer.Option("--status", help="Only these (repeat).")
    ] = None,
    severity: Annotated[
        list[Severity] | None, typer.Option("--severity", help="Only these (repeat).")
    ] = None,
    start: Annotated[
        str | None, typer.Option("--from", help="Opened at or after (RFC 3339).")
    ] = None,
    end: Annotated[str | None, typer.Option("--to", help="Opened before (RFC 3339).")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
    as_json: JsonOption = False,
    config: ConfigOption = None,
    url: UrlOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """List incidents, newest first."""
    params: list[tuple[str, str]] = [("limit", str(limit))]
    params += [("status", s.value) for s in status or ()]
    params += [("severity", s.value) for s in severity or ()]
    params += [(k, v) for k, v in (("from", start), ("to", end)) if v is not None]
    page = ask_warden("GET", f"/v1/incidents?{urlencode(params)}", config, url, api_key)
    if as_json:
        console.print_json(data=page)
        return
    table = Table("id", "severity", "status", "title", "opened", "acknowledged", "resolved")
    for item in page["items"]:
        table.add_row(
            item["id"],
            item["severity"],
            item["status"],
            item["title"],
            item["created_at"],
            item["acknowledged_by"] or "—",
            item["resolved_at"] or "—",
        )
    console.print(table)
    _print(f"{len(page['items'])} of {page['total']} incident(s)")


@incident_app.command("show")
def show(
    incident_id: IdArgument,
    as_json: JsonOption = False,
    config: ConfigOption = None,
    url: UrlOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """Show an incident: its fields, alerts, timeline and action items."""
    found = ask_warden("GET", _path(incident_id), config, url, api_key)
    if as_json:
        console.print_json(data=found)
        return
    _print(_summary(found))
    durations = found["durations"]
    for name in ("commander", "services", "bots", "impact_started_at", "detected_at"):
        _print(f"  {name}: {found[name]}")
    for name in ("acknowledged_at", "acknowledged_by", "resolved_at", "resolved_by"):
        _print(f"  {name}: {found[name]}")
    _print(
        f"  time to detect {format_duration(durations['time_to_detect_s'])}, "
        f"acknowledge {format_duration(durations['time_to_acknowledge_s'])}, "
        f"resolve {format_duration(durations['time_to_resolve_s'])}"
    )
    for alert in found["alerts"]:
        _print(f"  alert {alert['alertname']} {alert['fingerprint']} since {alert['starts_at']}")
    _print("timeline:")
    for entry in found["timeline"]:
        _print(f"  {entry['at']}  {entry['kind']:<15} {entry['actor']}: {entry['text']}")
    for item in found["action_items"]:
        _print(f"  [{'x' if item['status'] == 'done' else ' '}] {item['number']}. {item['title']}")


@incident_app.command("open")
def open_(
    title: Annotated[str, typer.Option(help="What is wrong, in one line.")],
    severity: Annotated[Severity, typer.Option(help="P0 critical .. P3 low.")],
    service: Annotated[list[str] | None, typer.Option(help="An affected service (repeat).")] = None,
    bot: Annotated[list[str] | None, typer.Option(help="An affected bot (repeat).")] = None,
    users: Annotated[int | None, typer.Option(min=0, help="How many users are affected.")] = None,
    functionality: Annotated[str | None, typer.Option(help="What does not work.")] = None,
    money_at_risk: Annotated[float | None, typer.Option(min=0, help="Funds at risk.")] = None,
    commander: Annotated[str | None, typer.Option(help="Who leads the response.")] = None,
    reason: ReasonOption = None,
    config: ConfigOption = None,
    url: UrlOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """Open an incident by hand; print its id."""
    impact = {"users": users, "functionality": functionality, "money_at_risk": money_at_risk}
    body: dict[str, Any] = {
        "title": title,
        "severity": severity.value,
        "services": service or [],
        "bots": bot or [],
        "impact": {k: v for k, v in impact.items() if v is not None},
    }
    if commander:
        body["commander"] = commander
    if reason:
        body["reason"] = reason
    opened = ask_warden("POST", "/v1/incidents", config, url, api_key, body=body)
    _print(opened["id"])


@incident_app.command("ack")
def ack(
    incident_id: IdArgument,
    reason: ReasonOption = None,
    config: ConfigOption = None,
    url: UrlOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """Acknowledge an incident (its alert group's paging stops)."""
    body = {"reason": reason} if reason else {}
    result = ask_warden("POST", _path(incident_id, "/ack"), config, url, api_key, body=body)
    incident = result["incident"]
    if result["changed"]:
        _print(f"acknowledged {incident['id']}")
    else:
        _print(f"{incident['id']} was acknowledged already by {incident['acknowledged_by']}")


@incident_app.command("note")
def note(
    incident_id: IdArgument,
    text: Annotated[str, typer.Argument(help="The note (quote it).")],
    config: ConfigOption = None,
    url: UrlOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """Add a note to the incident's timeline."""
    body = {"text": text}
    ask_warden("POST", _path(incident_id, "/notes"), config, url, api_key, body=body)
    _print(f"noted on {incident_id}")


@incident_app.command("status")
def status(
    incident_id: IdArgument,
    new_status: Annotated[Status, typer.Argument(metavar="STATUS", help="The new status.")],
    reason: ReasonOption = None,
    config: ConfigOption = None,
    url: UrlOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """Move the incident: investigating, identified, monitoring (resolved: use resolve)."""
    body: dict[str, Any] = {"status": new_status.value}
    if reason:
        body["reason"] = reason
    moved = ask_warden("POST", _path(incident_id, "/status"), config, url, api_key, body=body)
    _print(_summary(moved))


@incident_app.command("resolve")
def resolve(
    incident_id: IdArgument,
    resolution: Annotated[str, typer.Option(help="What fixed it (required).")],
    config: ConfigOption = None,
    url: UrlOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """Resolve the incident."""
    body = {"resolution": resolution}
    resolved = ask_warden("POST", _path(incident_id, "/resolve"), config, url, api_key, body=body)
    _print(_summary(resolved))


@incident_app.command("report")
def report(
    incident_id: IdArgument,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the Markdown to this file.")
    ] = None,
    config: ConfigOption = None,
    url: UrlOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """Print (or write) the incident report as Markdown."""
    path = _path(incident_id, "/report")
    result = ask_warden("GET", path, config, url, api_key, params={"format": "json"})
    markdown = str(result["markdown"])
    if output is None:
        _print(markdown)
        return
    try:
        output.write_text(markdown, encoding="utf-8")
    except OSError as exc:
        raise fail(f"--output: cannot write {output}: {exc.strerror}") from None
    _print(f"wrote the report of {incident_id} to {output}")


@incident_app.command("action")
def action(
    incident_id: IdArgument,
    action_id: Annotated[str, typer.Argument(help="The runbook action's id, e.g. halt.")],
    reason: Annotated[str, typer.Option(help="Why (required; in the audit log).")],
    config: ConfigOption = None,
    url: UrlOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """Press a remediation action of the incident's runbook (kill switch, breaker, queue)."""
    path = _path(incident_id, f"/actions/{quote(action_id, safe='')}")
    done = ask_warden("POST", path, config, url, api_key, body={"reason": reason})
    _print(
        f"{done['name']} {done['target']} (runbook {done['runbook']}, action {done['action']})"
        f" on {done['incident']}"
    )
