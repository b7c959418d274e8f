"""Issue 6's monitor inputs, end to end through a served warden: an HTTP monitor that
flips (``MonitorDown``) and a heartbeat that stops (``HeartbeatMissed``) reach the channel
firing with their alertname and labels, and resolved when the cause goes away; monitors
created and deleted over the API too.

The rules are the generated monitor rules, unchanged. Each test records its cause-to-
notification time as a property (informational, never asserted).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from e2e._inputs_support import Rig, Target, Warden, inbox, inputs_config, jump_clock, ms_since, rig
from support.eventually import eventually
from tradewarden.guard.heartbeat import HeartbeatClient, HeartbeatConfig

__all__ = ["inbox", "jump_clock", "rig"]

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

Record = Callable[[str, object], None]
TOKEN = "hb-token-for-the-e2e-test"


def _http_monitor(name: str, url: str, **fields: Any) -> dict[str, Any]:
    return {"kind": "http", "name": name, "url": url, "interval_s": 0.5, "timeout_s": 0.5} | fields


def _active_since(warden: Warden, alertname: str, monitor: str) -> int | None:
    return next(
        (
            alert.active_at_ms
            for alert, _rule, _group in warden.runtime.rules.alerts()
            if alert.name == alertname and alert.labels.get("monitor") == monitor
        ),
        None,
    )


async def test_an_http_monitor_going_down_notifies_monitor_down_and_recovering_resolves_it(
    rig: Rig, record_property: Record
) -> None:
    async with Target() as target:
        monitor = _http_monitor("exchange-api", target.url, labels={"team": "desk"})
        async with rig.warden(inputs_config(monitors=[monitor])):
            loop = asyncio.get_running_loop()
            target.status = 500
            broke_at = loop.time()
            fired = await rig.inbox.wait_for("firing", "MonitorDown", monitor="exchange-api")
            record_property("cause_to_notification_ms", ms_since(broke_at, fired))
            assert fired.labels == {
                "alertname": "MonitorDown",
                "monitor": "exchange-api",
                "state": "DOWN",
                "kind": "http",
                "severity": "critical",
                "team": "desk",
            }
            target.status = 200
            resolved = await rig.inbox.wait_for("resolved", "MonitorDown", monitor="exchange-api")
            assert resolved.labels == fired.labels
            assert [d.status for d in rig.inbox.of("MonitorDown")] == ["firing", "resolved"]


async def test_a_heartbeat_that_stops_notifies_heartbeat_missed_and_a_ping_resolves_it(
    rig: Rig, monkeypatch: pytest.MonkeyPatch, record_property: Record
) -> None:
    monkeypatch.setenv("TW_E2E_HEARTBEAT_TOKEN", TOKEN)
    monitor = {
        "kind": "heartbeat",
        "name": "bot-loop",
        "period_s": 1,
        "grace_s": 1,
        "interval_s": 0.5,
        "token_env": "TW_E2E_HEARTBEAT_TOKEN",
        "labels": {"bot": "sol-1"},
    }
    async with rig.warden(inputs_config(monitors=[monitor])) as warden:
        board = warden.runtime.heartbeats
        assert board is not None
        # The bot's side: the guard's heartbeat client.
        client = HeartbeatClient(HeartbeatConfig(url=warden.url, name="bot-loop", token=TOKEN))
        try:
            client.ping()  # the bot's loop ran once, then it hangs
            await eventually(lambda: board.get("bot-loop") is not None)
            deadline_at = asyncio.get_running_loop().time() + 2  # period + grace from now
            fired = await rig.inbox.wait_for("firing", "HeartbeatMissed", monitor="bot-loop")
            record_property("deadline_to_notification_ms", ms_since(deadline_at, fired))
            assert fired.labels == {
                "alertname": "HeartbeatMissed",
                "monitor": "bot-loop",
                "kind": "heartbeat",
                "severity": "critical",
                "bot": "sol-1",
            }
            await rig.inbox.wait_for("firing", "MonitorDown", monitor="bot-loop", kind="heartbeat")
            client.ping()  # the bot is back
            resolved = await rig.inbox.wait_for("resolved", "HeartbeatMissed", monitor="bot-loop")
            assert resolved.labels == fired.labels
            await rig.inbox.wait_for("resolved", "MonitorDown", monitor="bot-loop")
        finally:
            client.close()


async def test_a_monitor_created_over_the_api_has_its_rule_before_its_first_failure(
    rig: Rig, record_property: Record
) -> None:
    async with (
        Target() as target,
        rig.warden(inputs_config()) as warden,
        httpx.AsyncClient(base_url=warden.url, headers=warden.headers) as http,
    ):
        target.status = 500
        created_at = asyncio.get_running_loop().time()
        created = await http.post("/v1/monitors", json=_http_monitor("venue-status", target.url))
        assert created.status_code == 201, created.text
        # Two failed checks 0.5 s apart, not the generated rules' 30 s refresh.
        fired = await rig.inbox.wait_for("firing", "MonitorDown", monitor="venue-status")
        record_property("created_to_notification_ms", ms_since(created_at, fired))
        target.status = 200
        await rig.inbox.wait_for("resolved", "MonitorDown", monitor="venue-status")


async def test_a_monitor_deleted_over_the_api_while_down_resolves_and_the_others_keep_firing(
    rig: Rig,
) -> None:
    async with Target() as target:
        target.status = 500
        config = inputs_config(monitors=[_http_monitor("zz-exchange", target.url)])
        async with (
            rig.warden(config) as warden,
            httpx.AsyncClient(base_url=warden.url, headers=warden.headers) as http,
        ):
            await rig.inbox.wait_for("firing", "MonitorDown", monitor="zz-exchange")
            since = _active_since(warden, "MonitorDown", "zz-exchange")
            # Its rule now comes after the new monitor's (the rules are sorted by monitor).
            created = await http.post("/v1/monitors", json=_http_monitor("aa-venue", target.url))
            assert created.status_code == 201, created.text
            await rig.inbox.wait_for("firing", "MonitorDown", monitor="aa-venue")
            deleted = await http.delete("/v1/monitors/aa-venue")
            assert deleted.status_code in {200, 204}, deleted.text
            # Deleted while DOWN: its alert is over with it.
            await rig.inbox.wait_for("resolved", "MonitorDown", monitor="aa-venue")
            # The other monitor's alert was never resolved and started again meanwhile.
            assert _active_since(warden, "MonitorDown", "zz-exchange") == since
            notified = [d.status for d in rig.inbox.of("MonitorDown") if "zz-exchange" in d.title]
            assert notified == ["firing"]
