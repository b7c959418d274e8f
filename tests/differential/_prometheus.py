"""A real Prometheus (Debian's /usr/bin/prometheus, v2.42) on a loopback port."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from support.daemons import require_binary, running_daemon

__all__ = ["PROMETHEUS", "prometheus_binary", "running_prometheus"]

PROMETHEUS = "/usr/bin/prometheus"


def prometheus_binary() -> str:
    """Return the binary; skip without it locally, fail in CI."""
    return require_binary(PROMETHEUS, "prometheus")


@asynccontextmanager
async def running_prometheus(config_file: Path, data_dir: Path) -> AsyncIterator[str]:
    """Run Prometheus with ``config_file`` until the block ends; yield its base URL."""
    binary = prometheus_binary()

    def command(listen: str) -> list[str]:
        return [
            binary,
            f"--config.file={config_file}",
            f"--storage.tsdb.path={data_dir / 'tsdb'}",
            f"--web.listen-address={listen}",
            "--storage.tsdb.retention.time=1d",
            "--log.level=warn",
        ]

    async with running_daemon("prometheus", data_dir, command) as url:
        yield url
