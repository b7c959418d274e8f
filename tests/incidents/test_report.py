"""The incident report: the seeds' template, filled from the record and the true timeline."""

from __future__ import annotations

from datetime import date

from incidents.conftest import DispatcherFactory, alert, detail, ended, incidents
from tradewarden.clock import ManualClock, utc_datetime
from tradewarden.incidents import Impact, IncidentService, Status, format_duration, iso


def test_times_are_utc_iso_and_durations_read_as_text() -> None:
    assert iso(utc_datetime(1_800_000_000.4)) == "2027-01-15T08:00:00Z"
    assert iso(None) == "-"
    assert format_duration(59) == "59s"
    assert format_duration(3 * 3600 + 4 * 60 + 10) == "3h 4m 10s"
    assert format_duration(None) == "-"


async def test_the_report_holds_the_true_timeline_and_the_post_mortem(
    service: IncidentService, make_dispatcher: DispatcherFactory, clock: ManualClock
) -> None:
    dispatcher = make_dispatcher(service)
    firing = alert(
        clock,
        ago_s=120,
        annotations={"summary": "RPC p99 over 2 s"},
        alertname="RpcSlow",
        severity="critical",
        monitor="solana-rpc",
    )
    await dispatcher.ingest([firing])
    await dispatcher.flush_due()
    [incident] = await incidents(service)
    db, key = service.database, incident.public_id
    clock.advance(180)
    async with db.session() as session:
        await service.acknowledge(session, key, by="alice", reason="on it")
    clock.advance(300)
    async with db.session() as session:
        await service.note(session, key, "failing over to the backup endpoint", by="alice")
        await service.set_status(session, key, Status.IDENTIFIED, by="alice", reason="provider")
    clock.advance(60)
    await dispatcher.ingest([ended(clock, firing)])
    await dispatcher.flush_due()
    clock.advance(600)
    async with db.session() as session:
        await service.resolve(session, key, by="alice", resolution="switched provider")
        await service.update(
            session,
            key,
            {
                "root_cause": "The provider rate-limited us.",
                "lessons_learned": "Keep two providers warm.",
                "impact": Impact(users=40, functionality="swaps", money_at_risk=1200),
            },
            by="alice",
        )
        await service.add_action_item(
            session,
            key,
            title="Second RPC provider",
            owner="bob",
            due_date=date(2027, 2, 1),
            by="alice",
        )
    async with db.read_session() as session:
        report = await service.report(session, key)
    found = await detail(service, key)

    assert report.startswith("## Incident Report\n")
    assert "**Incident ID:** INC-2027-0001" in report
    assert "**Severity:** P0" in report
    assert "**Status:** Resolved" in report
    assert "- Number of affected users: 40" in report
    assert "- Affected functionality: swaps" in report
    assert "- Money at risk: 1200.0" in report
    lines = [line for line in report.splitlines() if line.startswith("- **20")]
    assert lines == [f"- **{iso(e.at)}** - {e.kind} ({e.actor}): {e.text}" for e in found.timeline]
    assert any("failing over to the backup endpoint" in line for line in lines)
    # detected at the flush, 120 s after the alert began; acked 180 s after the notice
    assert "- Time to detect: 2m 0s" in report
    assert "- Time to acknowledge: 3m 0s" in report
    assert "- Time to resolve: 21m 0s" in report  # 120 + 180 + 300 + 60 + 600
    assert "### Root Cause\nThe provider rate-limited us." in report
    assert "### Resolution\nswitched provider" in report
    assert "- [ ] 1. Second RPC provider (owner: bob, due 2027-02-01)" in report
    assert "### Lessons Learned\nKeep two providers warm." in report
    assert '`RpcSlow` {monitor="solana-rpc", severity="critical"}' in report
