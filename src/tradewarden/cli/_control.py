"""``tradewarden kill | reduce | resume | state`` and ``tradewarden breaker ...``: the kill
switch and the shared circuit breakers of a running warden, over its API (so the warden
stores and audits every change as the operator whose API key is used)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any
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

__all__ = ["breaker_app", "register_control_commands"]

breaker_app = typer.Typer(
    help="List, open, close and reset the circuit breakers the bots share through Redis.",
    no_args_is_help=True,
)
ReasonOption = Annotated[
    str, typer.Option(help="Why: stored with the change and written to the audit log.")
]
MessageOption = Annotated[str, typer.Option(help="Shown to whoever reads the state.")]
NameArgument = Annotated[str, typer.Argument(help="The breaker's name (circuit_breaker:<name>).")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the raw JSON.")]


class ResumeTo(StrEnum):
    active = "active"
    reducing = "reducing"


def _describe(state: dict[str, Any]) -> str:
    if not state["version"]:
        return "ACTIVE (never changed)"
    message = f" - {state['message']}" if state.get("message") else ""
    return (
        f"{state['state']} since {state['changed_at']} by {state['actor']}:"
        f" {state['reason']}{message} (version {state['version']})"
    )


def _changed(result: dict[str, Any], verb: str) -> None:
    state = result["state"]
    if result["changed"]:
        console.print(f"{verb}: {_describe(state)}", soft_wrap=True, markup=False)
    else:
        console.print(f"unchanged, already {_describe(state)}", soft_wrap=True, markup=False)
    if not result.get("audited", True):
        console.print("warning: stored, but the warden could not write the audit row")


def _post_change(
    path: str,
    reason: str,
    message: str,
    config: ConfigOption,
    url: str | None,
    api_key: str | None,
    verb: str,
) -> None:
    body = {"reason": reason, "message": message}
    _changed(ask_warden("POST", path, config, url, api_key, body=body), verb)


def kill(
    reason: ReasonOption,
    message: MessageOption = "",
    config: ConfigOption = None,
    url: UrlOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """Halt every bot on the warden's trading-state back end (no new orders)."""
    _post_change("/v1/kill-switch", reason, message, config, url, api_key, "halted")


def reduce(
    reason: ReasonOption,
    message: MessageOption = "",
    config: ConfigOption = None,
    url: UrlOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """Allow only orders that reduce exposure (a halt stays a halt)."""
    _post_change("/v1/kill-switch/reduce", reason, message, config, url, api_key, "reducing")


def resume(
    reason: ReasonOption,
    message: MessageOption = "",
    to: Annotated[
        ResumeTo, typer.Option(help="reducing: loosen a halt only as far as reduce-only.")
    ] = ResumeTo.active,
    config: ConfigOption = None,
    url: UrlOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """Let the bots trade again: the one way out of a kill."""
    body = {"reason": reason, "message": message, "to": to.value.upper()}
    _changed(
        ask_warden("POST", "/v1/kill-switch/resume", config, url, api_key, body=body), "resumed"
    )


def state(
    history: Annotated[int, typer.Option(min=0, max=1000, help="Also list N changes.")] = 0,
    as_json: JsonOption = False,
    config: ConfigOption = None,
    url: UrlOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """Print the trading state: who set it, why, and when."""
    current = ask_warden("GET", "/v1/trading/state", config, url, api_key)
    changes = (
        ask_warden("GET", f"/v1/trading/history?limit={history}", config, url, api_key)
        if history
        else []
    )
    if as_json:
        console.print_json(data={"state": current, "history": changes} if history else current)
        return
    console.print(_describe(current), soft_wrap=True, markup=False)
    for change in changes:
        console.print(f"  {_describe(change)}", soft_wrap=True, markup=False)


def _breaker_row(table: Table, breaker: dict[str, Any]) -> None:
    remaining = breaker.get("remaining_s")
    table.add_row(
        breaker["name"],
        breaker["state"],
        str(breaker["failure_count"]),
        str(breaker.get("last_failure_time") or ""),
        "" if remaining is None else f"{remaining:g}",
    )


@breaker_app.command("list")
def breaker_list(
    as_json: JsonOption = False,
    config: ConfigOption = None,
    url: UrlOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """List every breaker with state in Redis."""
    breakers = ask_warden("GET", "/v1/circuit-breakers", config, url, api_key)
    if as_json:
        console.print_json(data=breakers)
        return
    table = Table("breaker", "state", "failures", "last failure", "open for s")
    for breaker in breakers:
        _breaker_row(table, breaker)
    console.print(table)


def _act(
    name: str,
    action: str,
    body: dict[str, Any],
    config: ConfigOption,
    url: str | None,
    api_key: str | None,
) -> None:
    path = f"/v1/circuit-breakers/{quote(name, safe='')}/{action}"
    result = ask_warden("POST", path, config, url, api_key, body=body)
    before = result["before"]["state"] if result["before"] else "no state"
    console.print(
        f"{result['name']}: {before} -> {result['after']['state']}", soft_wrap=True, markup=False
    )


@breaker_app.command("open")
def breaker_open(
    name: NameArgument,
    reason: ReasonOption,
    forced: Annotated[
        bool,
        typer.Option(help="--no-forced: OPEN with the usual timeout instead of FORCED_OPEN."),
    ] = True,
    config: ConfigOption = None,
    url: UrlOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """Open the breaker in every bot (FORCED_OPEN: until an operator closes it)."""
    _act(name, "open", {"reason": reason, "forced": forced}, config, url, api_key)


@breaker_app.command("close")
def breaker_close(
    name: NameArgument,
    reason: ReasonOption,
    config: ConfigOption = None,
    url: UrlOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """Close the breaker in every bot and clear its failure count."""
    _act(name, "close", {"reason": reason}, config, url, api_key)


@breaker_app.command("reset")
def breaker_reset(
    name: NameArgument,
    reason: ReasonOption,
    config: ConfigOption = None,
    url: UrlOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """Reset the breaker (the same as close: CLOSED, count cleared)."""
    _act(name, "reset", {"reason": reason}, config, url, api_key)


def register_control_commands(app: typer.Typer) -> None:
    """Add ``kill``, ``reduce``, ``resume``, ``state`` and the ``breaker`` group to ``app``."""
    for command in (kill, reduce, resume, state):
        app.command()(command)
    app.add_typer(breaker_app, name="breaker")
