"""``tradewarden queue ...``: pause, resume, retry and clean the queues of a running warden's
queue monitors, over its API (so the warden audits them)."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Annotated, Any
from urllib.parse import quote

import typer

from tradewarden.cli._context import (
    ApiKeyOption,
    ConfigOption,
    UrlOption,
    call_warden,
    console,
    load,
)

__all__ = ["queue_app"]

queue_app = typer.Typer(
    help="Pause, resume, retry and clean the queues of a running warden's queue monitors.",
    no_args_is_help=True,
)
MonitorArgument = Annotated[str, typer.Argument(help="The queue monitor.")]
QueueArgument = Annotated[str, typer.Argument(help="One of the queues it watches.")]
ReasonOption = Annotated[str, typer.Option(help="Why: written to the audit log (required).")]
AllWorkersOption = Annotated[
    bool,
    typer.Option(
        help="RQ only: suspend or resume every RQ worker of the monitor's Redis database."
    ),
]


class CleanState(StrEnum):
    completed = "completed"
    failed = "failed"


def _act(
    action: str,
    monitor: str,
    queue: str,
    body: dict[str, Any],
    config: ConfigOption,
    url: str | None,
    api_key: str | None,
) -> dict[str, Any]:
    path = f"/v1/queues/{quote(monitor, safe='')}/{quote(queue, safe='')}/{action}"
    result: dict[str, Any] = call_warden("POST", path, load(config), url, api_key, body=body)
    return result


def _said(result: dict[str, Any], what: str) -> None:
    console.print(f"{result['monitor']}/{result['queue']} ({result['backend']}): {what}")
    for key, value in result.get("details", {}).items():
        if key in {"scope", "caveat"}:
            console.print(f"  {key}: {value}")


def _pause_command(action: str, doc: str, paused: str, unpaused: str) -> Callable[..., None]:
    """Return the ``pause`` or ``resume`` command: one body, told apart by ``action``."""

    def command(
        monitor: MonitorArgument,
        queue: QueueArgument,
        reason: ReasonOption,
        all_workers: AllWorkersOption = False,
        config: ConfigOption = None,
        url: UrlOption = None,
        api_key: ApiKeyOption = None,
    ) -> None:
        body = {"reason": reason, "all_workers": all_workers}
        result = _act(action, monitor, queue, body, config, url, api_key)
        _said(result, paused if result["paused"] else unpaused)

    command.__name__ = command.__qualname__ = f"queue_{action}"
    command.__doc__ = doc
    return command


queue_pause = queue_app.command("pause")(
    _pause_command(
        "pause",
        "Stop workers taking jobs from the queue (running jobs finish).",
        "paused",
        "not paused",
    )
)
queue_resume = queue_app.command("resume")(
    _pause_command(
        "resume", "Let workers take jobs from the queue again.", "still paused", "resumed"
    )
)


@queue_app.command("retry-failed")
def queue_retry_failed(
    monitor: MonitorArgument,
    queue: QueueArgument,
    reason: ReasonOption,
    config: ConfigOption = None,
    url: UrlOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """Move every failed job of the queue back to waiting."""
    result = _act("retry-failed", monitor, queue, {"reason": reason}, config, url, api_key)
    _said(result, f"retried {result['retried']} failed jobs")


@queue_app.command("clean")
def queue_clean(
    monitor: MonitorArgument,
    queue: QueueArgument,
    reason: ReasonOption,
    state: Annotated[CleanState, typer.Option(help="Which finished jobs.")],
    older_than: Annotated[
        float, typer.Option("--older-than", help="Seconds since they finished (above 0).")
    ],
    limit: Annotated[int | None, typer.Option(min=1, help="At most this many.")] = None,
    config: ConfigOption = None,
    url: UrlOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """Remove the completed or failed jobs that finished more than --older-than s ago."""
    body = {
        "reason": reason,
        "state": state.value,
        "older_than_s": older_than,
        "limit": limit,
    }
    result = _act("clean", monitor, queue, body, config, url, api_key)
    _said(result, f"removed {result['removed']} {state.value} jobs older than {older_than:g} s")
