"""GET /v1/maintenance (viewer), and the windows in Alertmanager's ``silencedBy``."""

from __future__ import annotations

import base64

import httpx
import pytest

from support.http import bearer
from tradewarden.alerting import MaintenanceWindowConfig, RouteConfig
from tradewarden.auth import Role
from tradewarden.clock import ManualClock
from tradewarden.config import ServiceConfig
from tradewarden.notify import AppriseChannelConfig
from tradewarden.runtime import SYSTEM, Runtime

# The ManualClock starts at 1_800_000_000 s: 2027-01-15T08:00:00Z, a Friday.
NOW = "2027-01-15T08:00:00Z"


@pytest.fixture
def service_config(monkeypatch: pytest.MonkeyPatch) -> ServiceConfig:
    monkeypatch.setenv("TW_TEST_CHAT_URL", "json://127.0.0.1:9/chat")
    return ServiceConfig(
        channels=(AppriseChannelConfig(type="apprise", name="chat", url_env="TW_TEST_CHAT_URL"),),
        route=RouteConfig(receiver="chat", group_by=("alertname",)),
        maintenance_windows=(
            MaintenanceWindowConfig(
                name="morning",  # 08:00 Berlin is 07:00 UTC: in force until 09:00 Berlin
                matchers=('exchange="binance"',),
                cron="0 8 * * *",
                duration="2h",
                timezone="Europe/Berlin",
                comment="exchange maintenance",
            ),
            MaintenanceWindowConfig.model_validate(
                {
                    "name": "move",
                    "matchers": ['alertname=~".+"', 'bot="b"'],
                    "starts_at": "2027-01-16T00:00:00+00:00",
                    "ends_at": "2027-01-16T03:00:00+00:00",
                }
            ),
        ),
    )


@pytest.fixture
async def keys(runtime: Runtime) -> dict[str, str]:
    viewer = await runtime.auth.create_api_key("viewer", Role.VIEWER, actor=SYSTEM)
    operator = await runtime.auth.create_api_key("prometheus", Role.OPERATOR, actor=SYSTEM)
    return {"viewer": viewer.key, "operator": operator.key}


async def test_the_windows_with_active_next_start_and_next_end(
    client: httpx.AsyncClient, keys: dict[str, str], clock: ManualClock
) -> None:
    assert (await client.get("/v1/maintenance")).status_code == 401
    listed = await client.get("/v1/maintenance", headers=bearer(keys["viewer"]))
    assert listed.status_code == 200
    morning, move = listed.json()
    assert morning == {
        "name": "morning",
        "silence_id": "maintenance:morning",
        "matchers": '{exchange="binance"}',
        "comment": "exchange maintenance",
        "recurring": True,
        "cron": "0 8 * * *",
        "duration_s": 7200.0,
        "timezone": "Europe/Berlin",
        "starts_at": None,
        "ends_at": None,
        "active": True,
        "next_start": "2027-01-16T07:00:00Z",
        "next_end": "2027-01-15T09:00:00Z",
    }
    assert (move["active"], move["recurring"]) == (False, False)
    assert (move["next_start"], move["next_end"]) == (
        "2027-01-16T00:00:00Z",
        "2027-01-16T03:00:00Z",
    )
    clock.advance(3600)  # 09:00 UTC: the morning window is over
    morning = (await client.get("/v1/maintenance", headers=bearer(keys["viewer"]))).json()[0]
    assert (morning["active"], morning["next_end"]) == (False, "2027-01-16T09:00:00Z")


async def test_a_muted_alert_shows_the_window_in_silenced_by(
    client: httpx.AsyncClient, keys: dict[str, str]
) -> None:
    token = base64.b64encode(f"prometheus:{keys['operator']}".encode()).decode()
    alerts = [
        {
            "labels": {"alertname": "OrdersStuck", "exchange": exchange},
            "startsAt": "2027-01-15T07:59:00Z",
            "endsAt": "2027-01-15T08:10:00Z",
        }
        for exchange in ("binance", "kraken")
    ]
    posted = await client.post(
        "/api/v2/alerts", json=alerts, headers={"Authorization": f"Basic {token}"}
    )
    assert posted.status_code == 200, posted.text
    listed = await client.get("/api/v2/alerts", headers=bearer(keys["viewer"]))
    status = {a["labels"]["exchange"]: a["status"] for a in listed.json()}
    assert status["binance"] == {
        "state": "suppressed",
        "silencedBy": ["maintenance:morning"],
        "inhibitedBy": [],
    }
    assert status["kraken"]["silencedBy"] == []
    hidden = await client.get(
        "/api/v2/alerts", params={"silenced": "false"}, headers=bearer(keys["viewer"])
    )
    assert [a["labels"]["exchange"] for a in hidden.json()] == ["kraken"]
