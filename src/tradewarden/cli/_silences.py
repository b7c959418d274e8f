"""``tradewarden silence add|list|expire``: silences of a running warden, over its API
(so the warden audits them and every instance sees them)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import quote

import typer
from rich.table import Table

from tradewarden.alerting import MatcherError, parse_matchers
from tradewarden.alerting._silences import matchers_to_api
from tradewarden.cli._context import (
    ApiKeyOption,
    ConfigOption,
    UrlOption,
    call_warden,
    console,
    fail,
    load,
)
from tradewarden.rules._durations import parse_duration_ms

__all__ = ["silence_app"]

_OPS = {(False, True): "=", (False, False): "!=", (True, True): "=~", (True, False): "!~"}
silence_app = typer.Typer(help="Silence alerts of a running warden.", no_args_is_help=True)


@silence_app.command("add")
def add(
    matchers: Annotated[
        list[str], typer.Argument(help="Matchers, as Alertmanager writes them: 'bot=alpha'.")
    ],
    comment: Annotated[str, typer.Option(help="Why (required; in the audit log).")],
    duration: Annotated[str, typer.Option(help="How long, from now (1h, 30m, 2d).")] = "1h",
    author: Annotated[str | None, typer.Option(help="Who (default: the API key).")] = None,
    config: ConfigOption = None,
    url: UrlOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """Add a silence; print its id."""
    try:
        parsed = tuple(m for text in matchers for m in parse_matchers(text))
        length_ms = parse_duration_ms(duration)
    except (MatcherError, ValueError) as exc:
        raise fail(str(exc)) from None
    now = datetime.now(UTC)
    body: dict[str, Any] = {
        "matchers": matchers_to_api(parsed),
        "startsAt": now.isoformat(),
        "endsAt": (now + timedelta(milliseconds=length_ms)).isoformat(),
        "comment": comment,
    }
    if author:
        body["createdBy"] = author
    result = call_warden("POST", "/v1/silences", load(config), url, api_key, body=body)
    console.print(result["id"])


@silence_app.command("list")
def list_(
    expired: Annotated[bool, typer.Option(help="Show expired silences too.")] = False,
    config: ConfigOption = None,
    url: UrlOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """List silences (active and pending; with --expired, the history too)."""
    silences = call_warden("GET", "/v1/silences", load(config), url, api_key)
    table = Table("id", "state", "matchers", "ends", "by", "comment")
    for s in silences:
        if s["status"]["state"] == "expired" and not expired:
            continue
        shown = ", ".join(
            f'{m["name"]}{_OPS[m["isRegex"], m["isEqual"]]}"{m["value"]}"' for m in s["matchers"]
        )
        table.add_row(
            s["id"], s["status"]["state"], shown, s["endsAt"], s["createdBy"], s["comment"]
        )
    console.print(table)


@silence_app.command("expire")
def expire(
    silence_id: Annotated[str, typer.Argument(help="The silence's id.")],
    reason: Annotated[str, typer.Option(help="Why (in the audit log).")] = "expired by hand",
    config: ConfigOption = None,
    url: UrlOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """Expire a silence now (it is kept for history)."""
    path = f"/v1/silences/{quote(silence_id, safe='')}"
    call_warden("DELETE", path, load(config), url, api_key, params={"reason": reason})
    console.print(f"expired {silence_id}")
