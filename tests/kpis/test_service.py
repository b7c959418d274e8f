"""KpiService over a real store (SQLite, or PostgreSQL with TW_TEST_DATABASE_URL)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from kpis.conftest import EXPECTED, seed
from tradewarden.clock import ManualClock, utc_datetime
from tradewarden.kpis import KpiMetrics, KpiService, KpiTargets, Window
from tradewarden.store import Database


@pytest.fixture
def clock() -> ManualClock:
    """Return a clock at 2027-01-15 08:00 UTC."""
    return ManualClock(start=1_800_000_000.0)


async def test_the_week_s_kpis_from_the_store(database: Database, clock: ManualClock) -> None:
    now = utc_datetime(clock.now())
    await seed(database, now)
    service = KpiService(database, clock, KpiTargets(), lambda: ["api", "cache"])
    kpis = await service.compute(service.trailing())
    assert kpis.mttd["all"].mean_s == pytest.approx(EXPECTED["mttd_s"])
    assert kpis.mtta["all"].mean_s == pytest.approx(EXPECTED["mtta_s"])
    assert kpis.mttr["all"].mean_s == pytest.approx(EXPECTED["mttr_s"])
    assert kpis.mttr["P0"].mean_s == pytest.approx(EXPECTED["mttr_p0_s"])
    noise, fast = kpis.alert_noise, kpis.ack_within_5m
    assert (noise.numerator, noise.denominator) == EXPECTED["noise"]
    assert (fast.numerator, fast.denominator) == EXPECTED["ack_5m"]
    within = kpis.p0p1_resolved_within_2h
    assert (within.numerator, within.denominator) == EXPECTED["p0p1_2h"]
    counts = kpis.incidents
    assert {
        "total": counts.total,
        "open": counts.open,
        "resolved": counts.resolved,
        "false_positive": counts.false_positive,
    } == EXPECTED["incidents"]
    assert kpis.alerts_notified == 4
    assert kpis.availability["api"].ratio == pytest.approx(EXPECTED["api_availability"])
    # db flipped UP twenty days ago and never again: UP the whole week.
    assert kpis.availability["db"].ratio == 1.0
    assert kpis.availability["cache"].ratio is None
    assert [(n.alertname, n.notifications) for n in kpis.noisiest] == [
        ("BotDown", 3),
        ("HighLatency", 1),
    ]


async def test_a_narrow_window_reads_only_its_own_rows(
    database: Database, clock: ManualClock
) -> None:
    now = utc_datetime(clock.now())
    await seed(database, now)
    service = KpiService(database, clock)
    kpis = await service.compute(Window(now - timedelta(days=1, minutes=1), now))
    assert kpis.incidents.total == 2  # C (open) and D (false positive)
    assert kpis.mttr["all"].count == 0
    assert kpis.alerts_notified == 2  # g3 and g4
    assert kpis.alert_noise.ratio == 1.0
    # api's flips all lie before this window: UP from the newest of them.
    assert kpis.availability["api"].ratio == 1.0


async def test_the_report_lists_overdue_action_items(
    database: Database, clock: ManualClock
) -> None:
    now = utc_datetime(clock.now())
    await seed(database, now)
    report = await KpiService(database, clock).report(Window(now - timedelta(days=7), now))
    assert [(i.incident, i.number, i.title) for i in report.overdue_action_items] == [
        ("INC-2027-0001", 1, "Add a pool size alert")
    ]
    assert [i.public_id for i in report.incidents] == [f"INC-2027-000{n}" for n in (1, 2, 3, 4)]


async def test_metrics_come_from_the_cache_not_the_store(
    database: Database, clock: ManualClock
) -> None:
    await seed(database, utc_datetime(clock.now()))
    registry = CollectorRegistry()
    metrics = KpiMetrics(KpiService(database, clock, monitors=lambda: ["api"]), registry)
    before = generate_latest(registry).decode()
    assert "tradewarden_kpi_mttr_seconds" not in before  # nothing computed yet
    assert await metrics.refresh() is not None
    await database.dispose()  # a scrape must not need the store
    text = generate_latest(registry).decode()
    assert f'tradewarden_kpi_mttr_seconds{{severity="all"}} {EXPECTED["mttr_s"]}' in text
    assert 'tradewarden_kpi_mttr_seconds{severity="P0"} 1200.0' in text
    assert 'tradewarden_kpi_mttr_seconds{severity="P3"}' not in text  # no sample: absent
    assert "tradewarden_kpi_alert_noise_ratio 0.5" in text
    assert "tradewarden_kpi_ack_within_5m_ratio 0.25" in text
    assert "tradewarden_kpi_p0p1_resolved_within_2h_ratio 1.0" in text
    assert 'tradewarden_monitor_availability_ratio{monitor="api"}' in text
    assert "tradewarden_kpi_refresh_failures_total 0.0" in text


async def test_a_failed_refresh_keeps_the_last_values_and_counts(
    database: Database, clock: ManualClock, tmp_path: object
) -> None:
    await seed(database, utc_datetime(clock.now()))
    registry = CollectorRegistry()
    service = KpiService(database, clock)
    metrics = KpiMetrics(service, registry)
    await metrics.refresh()
    broken = Database(f"sqlite:///{tmp_path}/missing/dir/x.db")
    metrics.service = KpiService(broken, clock)
    try:
        assert await metrics.refresh() is None
    finally:
        await broken.dispose()
    text = generate_latest(registry).decode()
    assert "tradewarden_kpi_refresh_failures_total 1.0" in text
    assert "tradewarden_kpi_alert_noise_ratio 0.5" in text
