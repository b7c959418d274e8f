"""The KPIs of history written by the real services: an incident opened, acknowledged and
resolved through IncidentService, its group's escalation through the Escalator, flips
through FlipRepository; read back over /v1/kpis and /metrics."""

from __future__ import annotations

from datetime import timedelta

import httpx
from prometheus_client import CollectorRegistry

from support.eventually import eventually
from support.http import bearer
from tradewarden.auth import Role
from tradewarden.clock import ManualClock, utc_datetime
from tradewarden.escalation import PolicyConfig
from tradewarden.incidents import IncidentService
from tradewarden.kpis import KpiMetrics
from tradewarden.notify import Message, Severity
from tradewarden.runtime import SYSTEM, Runtime
from tradewarden.store import FlipRepository

GROUP = 'route:{alertname="DatabaseDown"}'
NOISE = 'route:{alertname="Flaky"}'
QUIET = PolicyConfig(name="quiet")  # no steps: nobody paged, only tracked


async def _history(runtime: Runtime, clock: ManualClock) -> None:
    """An incident that hurt for 15 minutes, and a flaky alert nobody answered."""
    assert runtime.escalator is not None
    escalator = runtime.escalator
    incidents = IncidentService(runtime.database, clock, escalation=escalator)
    start = utc_datetime(clock.now())
    message = Message(fingerprint="db-down", severity=Severity.P1, title="[FIRING:1] DatabaseDown")
    await escalator.open(GROUP, message, QUIET)
    async with runtime.database.session() as session:
        incident = await incidents.open(
            session,
            title="Database down",
            severity=Severity.P1,
            by="test",
            group_key=GROUP,
            impact_started_at=start - timedelta(minutes=3),
        )
        number = incident.public_id
        await FlipRepository(session).add_many(
            [
                {
                    "monitor": "db",
                    "old_state": "PENDING",
                    "new_state": "UP",
                    "reason": "check passed",
                    "at": start - timedelta(days=1),
                },
                {
                    "monitor": "db",
                    "old_state": "UP",
                    "new_state": "DOWN",
                    "reason": "refused",
                    "at": start - timedelta(minutes=3),
                },
            ]
        )
    clock.advance(120)
    async with runtime.database.session() as session:
        await incidents.acknowledge(session, number, by="alice", reason="mine")
    clock.advance(600)
    async with runtime.database.session() as session:
        await incidents.resolve(session, number, by="alice", resolution="restarted")
        await FlipRepository(session).add_many(
            [
                {
                    "monitor": "db",
                    "old_state": "DOWN",
                    "new_state": "UP",
                    "reason": "check passed",
                    "at": utc_datetime(clock.now()),
                }
            ]
        )
    await escalator.resolve(GROUP)
    flaky = Message(fingerprint="flaky", severity=Severity.P3, title="[FIRING:1] Flaky")
    await escalator.open(NOISE, flaky, QUIET)
    clock.advance(60)
    await escalator.resolve(NOISE)


async def test_kpis_reflect_what_the_services_recorded(
    runtime: Runtime, client: httpx.AsyncClient, clock: ManualClock
) -> None:
    await _history(runtime, clock)
    viewer = await runtime.auth.create_api_key("viewer", Role.VIEWER, actor=SYSTEM)
    response = await client.get("/v1/kpis", headers=bearer(viewer.key))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["mttd"]["all"] == {"count": 1, "mean_s": 180.0, "median_s": 180.0, "max_s": 180.0}
    assert body["mttr"]["P1"]["mean_s"] == 15 * 60.0  # 3 minutes before detection + 12
    assert body["p0p1_resolved_within_2h"] == {"numerator": 1, "denominator": 1, "ratio": 1.0}
    # The database's group was acknowledged after 2 minutes (through its incident);
    # the flaky one resolved on its own: noise 1 of 2, acknowledged within 5 min 1 of 2.
    assert body["alert_noise"]["ratio"] == 0.5
    assert body["ack_within_5m"]["ratio"] == 0.5
    assert body["alerts"] == {"notified": 2, "unresolved": 0}
    db = next(a for a in body["availability"] if a["monitor"] == "db")
    assert db["down_s"] == 15 * 60.0
    assert db["flips"] == 3  # UP a day ago, DOWN, UP again


async def test_the_metrics_endpoint_serves_the_refreshed_kpis(
    runtime: Runtime, client: httpx.AsyncClient, clock: ManualClock
) -> None:
    await _history(runtime, clock)
    before = (await client.get("/metrics")).text
    assert "tradewarden_kpi_mttr_seconds{" not in before  # not refreshed yet: nothing made up
    await runtime.kpis.refresh()
    text = (await client.get("/metrics")).text
    assert 'tradewarden_kpi_mttr_seconds{severity="P1"} 900.0' in text
    assert 'tradewarden_kpi_mttd_seconds{severity="all"} 180.0' in text
    assert "tradewarden_kpi_alert_noise_ratio 0.5" in text
    assert 'tradewarden_monitor_availability_ratio{monitor="db"}' in text


async def test_the_background_refresh_fills_the_cache(runtime: Runtime) -> None:
    metrics = KpiMetrics(runtime.kpis.service, CollectorRegistry(), interval_s=0.05)
    metrics.start()
    try:

        async def refreshed() -> bool:
            return metrics.collector.kpis is not None

        await eventually(refreshed, timeout_s=30)
    finally:
        await metrics.stop()
    assert metrics.collector.failures == 0


async def test_a_zero_interval_never_refreshes(runtime: Runtime) -> None:
    metrics = KpiMetrics(runtime.kpis.service, CollectorRegistry(), interval_s=0)
    metrics.start()
    await metrics.stop()
    assert metrics.collector.kpis is None
