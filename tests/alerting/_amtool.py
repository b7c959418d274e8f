"""Debian's amtool (``/usr/bin/amtool``): the receivers Alertmanager routes an alert to."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

import pytest

AMTOOL = "/usr/bin/amtool"


def amtool_binary() -> str:
    """Return the binary; skip without it locally, fail in CI."""
    if shutil.which(AMTOOL) is None:
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(f"{AMTOOL} is missing (install the Debian package prometheus-alertmanager)")
        pytest.skip(f"{AMTOOL} is not installed")
    return AMTOOL


def amtool_routes(config_file: Path, labels: Mapping[str, str]) -> list[str]:
    """Return the receivers ``amtool config routes test`` names for ``labels``, in order."""
    done = subprocess.run(
        [
            amtool_binary(),
            "config",
            "routes",
            "test",
            f"--config.file={config_file}",
            *(f"{k}={_quote(v)}" for k, v in labels.items()),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return done.stdout.strip().split(",")


def _quote(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'
