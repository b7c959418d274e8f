"""The CLI run against a served warden, as an operator runs it."""

from __future__ import annotations

import asyncio

from typer.testing import CliRunner, Result

from tradewarden.cli import app

__all__ = ["cli_against"]


async def cli_against(url: str, key: str, *args: str) -> Result:
    """Run ``tradewarden ARGS --url URL --api-key KEY``.

    The CLI is synchronous: it runs in a thread while the caller's loop serves its requests.
    """
    argv = [*args, "--url", url, "--api-key", key]
    return await asyncio.to_thread(CliRunner().invoke, app, argv)
