"""The guard stands alone: a bot imports it without the warden's dependencies."""

from __future__ import annotations

import subprocess
import sys

SERVER_MODULES = ("fastapi", "starlette", "sqlalchemy", "alembic", "pydantic", "uvicorn", "typer")


def test_importing_the_guard_loads_nothing_of_the_server() -> None:
    code = (
        "import sys, pkgutil, importlib, tradewarden.guard as g\n"
        "for m in pkgutil.walk_packages(g.__path__, 'tradewarden.guard.'):\n"
        "    importlib.import_module(m.name)\n"
        f"print(','.join(sorted(m for m in {SERVER_MODULES!r} if m in sys.modules)))\n"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == ""
