"""The ``tradewarden`` command."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import typer
from rich.table import Table

from tradewarden._version import __version__
from tradewarden.cli._context import (
    ConfigOption,
    call_warden,
    console,
    err_console,
    fail,
    load,
    run_with_runtime,
)
from tradewarden.cli._control import register_control_commands
from tradewarden.cli._export import export_app
from tradewarden.cli._incidents import incident_app
from tradewarden.cli._kpis import kpis_app
from tradewarden.cli._maintenance import maintenance_app
from tradewarden.cli._monitors import monitor_app
from tradewarden.cli._oncall import register_oncall_commands
from tradewarden.cli._queues import queue_app
from tradewarden.cli._runbooks import runbook_app
from tradewarden.cli._serve import serve
from tradewarden.cli._silences import silence_app
from tradewarden.cli._users import apikey_app, user_app
from tradewarden.config import EXAMPLE_CONFIG
from tradewarden.notify.channels import channel_problems
from tradewarden.runtime import Runtime
from tradewarden.store import current_revision, head_revision, upgrade

__all__ = ["app", "main"]

app = typer.Typer(
    name="tradewarden",
    help="The operations layer for trading bots: watch, alert, stop trading when told.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
config_app = typer.Typer(help="Work with the config file.", no_args_is_help=True)
db_app = typer.Typer(help="Manage the database schema.", no_args_is_help=True)
app.add_typer(config_app, name="config")
app.add_typer(db_app, name="db")
app.add_typer(user_app, name="user")
app.add_typer(apikey_app, name="apikey")
app.add_typer(monitor_app, name="monitor")
app.add_typer(queue_app, name="queue")
app.add_typer(export_app, name="export")
app.add_typer(silence_app, name="silence")
app.add_typer(incident_app, name="incident")
app.add_typer(maintenance_app, name="maintenance")
app.add_typer(kpis_app, name="kpis")
app.add_typer(runbook_app, name="runbook")


@app.command()
def version() -> None:
    """Print the version."""
    console.print(f"tradewarden {__version__}")


@app.command()
def up(
    config: ConfigOption = None,
    host: Annotated[str | None, typer.Option(help="Listen address (overrides the config).")] = None,
    port: Annotated[
        int | None, typer.Option(min=1, max=65535, help="Listen port (overrides the config).")
    ] = None,
) -> None:
    """Migrate the database and run the warden."""
    loaded = load(config)
    serve(loaded, host=host, port=port)


@app.command()
def init(
    path: Annotated[Path, typer.Option("--path", help="Where to write the config.")] = Path(
        "tradewarden.yaml"
    ),
    force: Annotated[bool, typer.Option(help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented example config file."""
    if path.exists() and not force:
        raise fail(f"{path} already exists (use --force to overwrite)")
    try:
        path.write_text(EXAMPLE_CONFIG, encoding="utf-8")
    except OSError as exc:
        raise fail(f"cannot write {path}: {exc.strerror or exc}") from None
    console.print(f"wrote {path}; check it with: tradewarden config check --config {path}")


@config_app.command("check")
def config_check(config: ConfigOption = None) -> None:
    """Validate the environment, the config file and that every channel can send: its
    secret is set and well-formed, Apprise can use its URL (exit 2 listing every problem;
    secrets are never printed)."""
    loaded = load(config)
    source = str(loaded.config_path) if loaded.config_path else "built-in defaults"
    if problems := channel_problems(loaded.config.channels):
        for problem in problems:
            err_console.print(f"[bold red]error:[/] {problem}", markup=True, soft_wrap=True)
        raise fail(f"{source}: {len(problems)} channel(s) cannot send", code=2)
    console.print(f"config ok: {source}")


@db_app.command("upgrade")
def db_upgrade(config: ConfigOption = None) -> None:
    """Apply every pending migration."""
    loaded = load(config)

    async def _upgrade(runtime: Runtime) -> tuple[str | None, str | None]:
        return await current_revision(runtime.database), await upgrade(runtime.database)

    # run_with_runtime migrates on start; report the revision reached.
    _before, after = run_with_runtime(loaded, _upgrade)
    console.print(f"database at revision {after} (head {head_revision()})")


@app.command()
def status(
    config: ConfigOption = None,
    url: Annotated[
        str | None, typer.Option(help="Warden base URL (default: from the config).")
    ] = None,
    api_key: Annotated[
        str | None, typer.Option(envvar="TRADEWARDEN_API_KEY", help="API key (viewer role).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the raw JSON.")] = False,
) -> None:
    """Ask a running warden for its /status and print it as a table."""
    body = call_warden("GET", "/status", load(config), url, api_key, answer_503=True)
    if as_json:
        console.print_json(data=body)
    else:
        _print_status(body)
    if body.get("status") == "down":
        raise typer.Exit(1)


@app.command()
def reload(
    config: ConfigOption = None,
    url: Annotated[
        str | None, typer.Option(help="Warden base URL (default: from the config).")
    ] = None,
    api_key: Annotated[
        str | None, typer.Option(envvar="TRADEWARDEN_API_KEY", help="API key (admin role).")
    ] = None,
    reason: Annotated[str | None, typer.Option(help="Why: written to the audit log.")] = None,
) -> None:
    """Make a running warden read its config file again and apply the monitors and the
    alerting sections (route, receivers, inhibit_rules, time_intervals, severities,
    maintenance_windows); channels and escalation are read at the next start.

    The same happens on SIGHUP (`kill -HUP <pid>`). An invalid file changes nothing.
    """
    path = "/v1/admin/reload" + (f"?reason={quote(reason)}" if reason else "")
    body = call_warden("POST", path, load(config), url, api_key)
    for change in ("added", "removed", "changed"):
        names = body.get(change) or []
        console.print(f"{change}: {', '.join(names) if names else '-'}")


_COLOURS = {"ok": "green", "up": "green", "degraded": "yellow", "down": "red"}


def _print_status(body: dict[str, Any]) -> None:
    verdict = str(body.get("status", "?"))
    console.print(
        f"warden {body.get('version', '?')}: [{_COLOURS.get(verdict, 'white')}]{verdict}[/]"
        f"  (up {body.get('uptime_s', '?')} s)"
    )
    table = Table("dependency", "status", "latency ms", "critical", "error")
    for name, check in dict(body.get("dependencies", {})).items():
        state = str(check.get("status", "?"))
        latency = check.get("latency_ms")
        table.add_row(
            name,
            f"[{_COLOURS.get(state, 'white')}]{state}[/]",
            "" if latency is None else f"{latency:.2f}",
            "yes" if check.get("critical") else "no",
            str(check.get("error") or ""),
        )
    console.print(table)


# After the commands above, so that `--help` lists them first.
register_control_commands(app)
register_oncall_commands(app)


def main() -> None:
    """Run the CLI; any unexpected error is one line on stderr, never a traceback."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - the last line of defence: one line, exit 1
        err_console.print(f"[bold red]error:[/] {type(exc).__name__}: {exc}", markup=True)
        sys.exit(1)
