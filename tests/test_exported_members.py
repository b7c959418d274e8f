"""The public surface of each package is exactly its ``__all__``, and every name resolves."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

PACKAGES = [
    "tradewarden",
    "tradewarden.api",
    "tradewarden.alerting",
    "tradewarden.auth",
    "tradewarden.cli",
    "tradewarden.config",
    "tradewarden.escalation",
    "tradewarden.export",
    "tradewarden.guard.heartbeat",
    "tradewarden.guard.metrics",
    "tradewarden.guard.retry",
    "tradewarden.guard.rpc",
    "tradewarden.health",
    "tradewarden.incidents",
    "tradewarden.kpis",
    "tradewarden.notify",
    "tradewarden.promql",
    "tradewarden.redisconn",
    "tradewarden.rules",
    "tradewarden.rules.packs",
    "tradewarden.runbooks",
    "tradewarden.series",
    "tradewarden.store",
    "tradewarden.telemetry",
]


@pytest.mark.parametrize("name", PACKAGES)
def test_all_names_resolve(name: str) -> None:
    module = importlib.import_module(name)
    exported = module.__all__
    assert sorted(set(exported)) == sorted(exported), "duplicates in __all__"
    for member in exported:
        assert hasattr(module, member), f"{name}.{member} is listed but missing"


@pytest.mark.parametrize("name", PACKAGES)
def test_public_names_are_listed(name: str) -> None:
    module = importlib.import_module(name)
    public = {
        attr
        for attr, value in vars(module).items()
        if not attr.startswith("_")
        and getattr(value, "__module__", name).startswith(name)
        and not isinstance(value, type(sys))
    }
    assert public <= set(module.__all__)


def test_importing_the_package_does_no_work() -> None:
    code = (
        "import sys, logging, tradewarden, tradewarden.api, tradewarden.cli;"
        "assert 'sqlalchemy.ext.asyncio' in sys.modules;"
        "assert not logging.getLogger().handlers, logging.getLogger().handlers;"
        "import prometheus_client;"
        "names = [m.name for m in prometheus_client.REGISTRY.collect()];"
        "assert not any(n.startswith(('http_requests', 'tradewarden')) for n in names), names"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
