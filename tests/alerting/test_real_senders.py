"""The real Prometheus and the real Alertmanager (Debian packages) sending to the warden."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from differential._prometheus import running_prometheus
from support.daemons import require_binary, running_daemon
from support.eventually import eventually
from support.net import LOOPBACK
from support.warden import serve_runtime
from tradewarden.alerting import RouteConfig, fingerprint
from tradewarden.auth import PasswordHasher, Role
from tradewarden.clock import SystemClock
from tradewarden.config import ServiceConfig, Settings
from tradewarden.notify import AppriseChannelConfig
from tradewarden.runtime import SYSTEM, Runtime
from tradewarden.store import Notification

pytestmark = pytest.mark.slow

ALERTMANAGER = "/usr/bin/prometheus-alertmanager"


@pytest.fixture
async def warden(
    settings: Settings, fast_hasher: PasswordHasher, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[str, str, Runtime]]:
    """Serve a warden on a loopback port; yield its URL, an operator's key and the runtime."""
    monkeypatch.setenv("TW_TEST_CHAT_URL", "json://127.0.0.1:9/chat")
    config = ServiceConfig(
        channels=(AppriseChannelConfig(type="apprise", name="chat", url_env="TW_TEST_CHAT_URL"),),
        route=RouteConfig(receiver="chat", group_by=("alertname",)),
    )
    runtime = Runtime(settings, config, clock=SystemClock(), hasher=fast_hasher)
    await runtime.start(bootstrap_admin=False)
    key = await runtime.auth.create_api_key("prometheus", Role.OPERATOR, actor=SYSTEM)
    async with serve_runtime(runtime, access_log=False) as url:
        yield url, key.key, runtime


def _found(runtime: Runtime, name: str) -> list[Any]:
    assert runtime.alerting is not None
    return [a for a in runtime.alerting.dispatcher.alerts.values() if a.name == name]


async def _notified(runtime: Runtime) -> list[Notification]:
    from sqlalchemy import select

    assert runtime.alerting is not None
    await runtime.alerting.dispatcher.flush_due()
    async with runtime.database.read_session() as session:
        return list((await session.scalars(select(Notification))).all())


async def test_prometheus_sends_to_the_warden(
    warden: tuple[str, str, Runtime], tmp_path: Path
) -> None:
    url, key, runtime = warden
    port = url.rsplit(":", 1)[1]
    (tmp_path / "rules.yml").write_text(
        json.dumps(
            {
                "groups": [
                    {
                        "name": "g",
                        "interval": "1s",
                        "rules": [
                            {
                                "alert": "AlwaysOn",
                                "expr": "vector(1)",
                                # Prometheus drops what it sends before it has found an
                                # Alertmanager (its discovery is throttled to 5 s) and resends
                                # only after a minute: fire once it has.
                                "for": "8s",
                                "labels": {"severity": "critical"},
                                "annotations": {"summary": "always on"},
                            }
                        ],
                    }
                ]
            }
        ),
        encoding="utf-8",
    )
    config = {
        "global": {"evaluation_interval": "1s", "external_labels": {"site": "test"}},
        "rule_files": [str(tmp_path / "rules.yml")],
        "alerting": {
            "alertmanagers": [
                {
                    "api_version": "v2",
                    "static_configs": [{"targets": [f"{LOOPBACK}:{port}"]}],
                    "basic_auth": {"username": "prometheus", "password": key},
                }
            ]
        },
    }
    (tmp_path / "prometheus.yml").write_text(json.dumps(config), encoding="utf-8")
    async with running_prometheus(tmp_path / "prometheus.yml", tmp_path):

        async def arrived() -> bool:
            return bool(_found(runtime, "AlwaysOn"))

        await eventually(arrived, timeout_s=60, interval_s=0.1)
    (alert,) = _found(runtime, "AlwaysOn")
    assert dict(alert.labels) == {"alertname": "AlwaysOn", "severity": "critical", "site": "test"}
    assert alert.annotations == {"summary": "always on"}
    assert alert.generator_url.startswith("http")
    assert alert.source.value == "prometheus"

    async def notified() -> bool:
        return any(n.channel == "chat" for n in await _notified(runtime))

    await eventually(notified, timeout_s=10, interval_s=0.05)  # P0: no group wait
    (row,) = await _notified(runtime)
    assert (row.severity, row.title) == ("P0", "[FIRING:1] AlwaysOn")


@asynccontextmanager
async def running_alertmanager(config_file: Path, data_dir: Path) -> AsyncIterator[str]:
    """Run Alertmanager (no cluster) until the block ends; yield its base URL."""
    binary = require_binary(ALERTMANAGER, "prometheus-alertmanager")

    def command(listen: str) -> list[str]:
        return [
            binary,
            f"--config.file={config_file}",
            f"--storage.path={data_dir / 'am'}",
            f"--web.listen-address={listen}",
            "--cluster.listen-address=",
            "--log.level=warn",
        ]

    async with running_daemon("alertmanager", data_dir, command) as url:
        yield url


async def test_alertmanager_webhook_reaches_the_warden_with_the_same_fingerprint(
    warden: tuple[str, str, Runtime], tmp_path: Path
) -> None:
    url, key, runtime = warden
    config = {
        "route": {"receiver": "warden", "group_wait": "0s", "group_by": ["alertname"]},
        "receivers": [
            {
                "name": "warden",
                "webhook_configs": [
                    {
                        "url": f"{url}/v1/integrations/alertmanager",
                        "http_config": {"basic_auth": {"username": "am", "password": key}},
                    }
                ],
            }
        ],
    }
    (tmp_path / "alertmanager.yml").write_text(json.dumps(config), encoding="utf-8")
    labels = {"alertname": "FromAM", "bot": "alpha", "severity": "warning"}
    async with running_alertmanager(tmp_path / "alertmanager.yml", tmp_path) as am:
        async with httpx.AsyncClient() as http:
            posted = await http.post(
                f"{am}/api/v2/alerts", json=[{"labels": labels, "annotations": {"summary": "s"}}]
            )
            assert posted.status_code == 200, posted.text
            (am_alert,) = (await http.get(f"{am}/api/v2/alerts")).json()

        async def arrived() -> bool:
            return bool(_found(runtime, "FromAM"))

        await eventually(arrived, timeout_s=60, interval_s=0.1)
    (alert,) = _found(runtime, "FromAM")
    assert dict(alert.labels) == labels
    assert alert.source.value == "alertmanager"
    assert alert.fingerprint == am_alert["fingerprint"] == fingerprint(labels)
