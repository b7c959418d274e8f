"""A real Prometheus (Debian's /usr/bin/prometheus, v2.42) on a loopback port."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from support.eventually import eventually
from support.net import LOOPBACK, free_port

__all__ = ["PROMETHEUS", "prometheus_binary", "running_prometheus"]

PROMETHEUS = "/usr/bin/prometheus"


def prometheus_binary() -> str:
    """Return the binary; skip without it locally, fail in CI."""
    if shutil.which(PROMETHEUS) is None:
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(f"{PROMETHEUS} is missing (install the Debian package prometheus)")
        pytest.skip(f"{PROMETHEUS} is not installed")
    return PROMETHEUS


@asynccontextmanager
async def running_prometheus(config_file: Path, data_dir: Path) -> AsyncIterator[str]:
    """Run Prometheus with ``config_file`` until the block ends; yield its base URL."""
    port = free_port()
    log = (data_dir / "prometheus.log").open("wb")
    process = subprocess.Popen(  # noqa: ASYNC220 - started once, waited for below
        [
            prometheus_binary(),
            f"--config.file={config_file}",
            f"--storage.tsdb.path={data_dir / 'tsdb'}",
            f"--web.listen-address={LOOPBACK}:{port}",
            "--storage.tsdb.retention.time=1d",
            "--log.level=warn",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://{LOOPBACK}:{port}"

    async def ready() -> bool:
        if process.poll() is not None:
            log.flush()
            raise AssertionError(
                "prometheus exited: " + (data_dir / "prometheus.log").read_text("utf-8")
            )
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
