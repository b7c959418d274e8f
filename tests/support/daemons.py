"""Real server binaries (Prometheus, Alertmanager) on a loopback port, for the duration of
a block: skipped locally without the binary, a failure in CI."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from support.eventually import eventually
from support.net import LOOPBACK, free_port

__all__ = ["require_binary", "running_daemon"]


def require_binary(path: str, package: str) -> str:
    """Return ``path``; skip the test without it locally, fail it in CI."""
    if shutil.which(path) is None:
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(f"{path} is missing (install the Debian package {package})")
        pytest.skip(f"{path} is not installed")
    return path


@asynccontextmanager
async def running_daemon(
    name: str, data_dir: Path, command: Callable[[str], Sequence[str]]
) -> AsyncIterator[str]:
    """Run ``command(listen_address)`` until the block ends, once its ``/-/ready`` answers
    200; yield its base URL. Its output goes to ``data_dir/<name>.log``, shown if it dies."""
    port = free_port()
    log_path = data_dir / f"{name}.log"
    log = log_path.open("wb")
    process = subprocess.Popen(  # noqa: ASYNC220 - started once, waited for below
        list(command(f"{LOOPBACK}:{port}")), stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://{LOOPBACK}:{port}"

    async def ready() -> bool:
        if process.poll() is not None:
            log.flush()
            raise AssertionError(f"{name} exited: " + log_path.read_text("utf-8"))
        try:
            async with httpx.AsyncClient() as http:
                return (await http.get(f"{url}/-/ready")).status_code == 200
        except httpx.TransportError:
            return False

    try:
        await eventually(ready, timeout_s=30, interval_s=0.1)
        yield url
    finally:
        process.terminate()
        try:
            await asyncio.wait_for(asyncio.to_thread(process.wait), timeout=20)
        except TimeoutError:
            process.kill()
            await asyncio.to_thread(process.wait)
        log.close()
