"""Issue 6's HTTP inputs, end to end: an alert posted on Prometheus's ``/api/v2/alerts``,
Alertmanager's webhook (version 4) or the generic webhook reaches the channel firing, and
resolved when its sender says it is over.

``tests/api/test_alerting.py`` covers what each endpoint accepts and stores, and
``tests/alerting/test_real_senders.py`` a real Prometheus and Alertmanager sending to the
warden; here each input goes on to delivered notifications, firing then resolved.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from e2e._inputs_support import Rig, inbox, inputs_config, jump_clock, rig

__all__ = ["inbox", "jump_clock", "rig"]

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

Build = Callable[..., tuple[str, Any]]


def _iso(epoch_s: float) -> str:
    return dt.datetime.fromtimestamp(epoch_s, tz=dt.UTC).isoformat().replace("+00:00", "Z")


def _prometheus(labels: dict[str, str], now: float, *, resolved: bool) -> tuple[str, Any]:
    # As Prometheus sends: endsAt ahead while firing, the resolution time once resolved.
    ends = now if resolved else now + 300
    alert = {"labels": labels, "startsAt": _iso(now - 60), "endsAt": _iso(ends)}
    return "/api/v2/alerts", [alert]


def _alertmanager(labels: dict[str, str], now: float, *, resolved: bool) -> tuple[str, Any]:
    status = "resolved" if resolved else "firing"
    alert = {
        "status": status,
        "labels": labels,
        "annotations": {"summary": "from another Alertmanager"},
        "startsAt": _iso(now - 60),
        "endsAt": _iso(now) if resolved else "0001-01-01T00:00:00Z",
        "fingerprint": "a1b2c3d4e5f60718",
    }
    payload = {
        "version": "4",
        "groupKey": '{}:{alertname="UpstreamDown"}',
        "status": status,
        "receiver": "warden",
        "groupLabels": {"alertname": labels["alertname"]},
        "commonLabels": labels,
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.invalid",
        "alerts": [alert],
    }
    return "/v1/integrations/alertmanager", payload


def _generic(labels: dict[str, str], _now: float, *, resolved: bool) -> tuple[str, Any]:
    body = {"labels": labels, "annotations": {"summary": "from a script"}}
    return "/v1/webhooks/alerts", {**body, "status": "resolved" if resolved else "firing"}


@pytest.mark.parametrize(
    ("build", "alertname"),
    [
        pytest.param(_prometheus, "BotDown", id="prometheus-api-v2"),
        pytest.param(_alertmanager, "UpstreamDown", id="alertmanager-webhook"),
        pytest.param(_generic, "Custom", id="generic-webhook"),
    ],
)
async def test_an_alert_posted_over_http_is_delivered_firing_then_resolved(
    build: Build, alertname: str, rig: Rig
) -> None:
    labels = {"alertname": alertname, "bot": "sol-1", "severity": "warning"}
    async with (
        rig.warden(inputs_config()) as warden,
        httpx.AsyncClient(base_url=warden.url, headers=warden.headers) as http,
    ):
        path, body = build(labels, rig.clock.now(), resolved=False)
        response = await http.post(path, json=body)
        assert response.status_code == 200, response.text
        fired = await rig.inbox.wait_for("firing", alertname)
        assert fired.labels == labels
        path, body = build(labels, rig.clock.now(), resolved=True)
        response = await http.post(path, json=body)
        assert response.status_code == 200, response.text
        resolved = await rig.inbox.wait_for("resolved", alertname)
        assert resolved.labels == labels
        assert [d.status for d in rig.inbox.of(alertname)] == ["firing", "resolved"]
