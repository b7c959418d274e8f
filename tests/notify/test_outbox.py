"""The durable outbox: rows before sends, retries, fallbacks, rate limits, claims, leases."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import func, select

from notify.conftest import PD_KEY, NotifierFactory, message, pagerduty, webhook
from support.eventually import eventually
from support.notify_wire import WireServer
from tradewarden.clock import ManualClock
from tradewarden.errors import NotFoundError
from tradewarden.notify import Notifier, RateLimitConfig, RetryConfig
from tradewarden.store import Database, Notification, NotificationRepository


async def _row(database: Database, notification_id: int) -> Notification:
    async with database.read_session() as session:
        row = await NotificationRepository(session).get(notification_id)
    assert row is not None
    return row


async def _count(database: Database) -> int:
    async with database.read_session() as session:
        return int(await session.scalar(select(func.count()).select_from(Notification)) or 0)


def _failures(notifier: Notifier, channel: str) -> float:
    for metric in notifier.metrics.failures.collect():
        for sample in metric.samples:
            if sample.name == "notify_failures_total" and sample.labels == {"channel": channel}:
                return sample.value
    return 0.0


async def test_enqueue_writes_a_row_per_channel_and_a_repeat_adds_none(
    make_notifier: NotifierFactory, wire: WireServer, database: Database
) -> None:
    notifier = make_notifier([pagerduty(wire=wire), webhook()])
    first = await notifier.outbox.enqueue(message(), ["pager", "hook"])
    again = await notifier.outbox.enqueue(message(), ["pager", "hook"])
    assert first == again
    assert await _count(database) == 2
    row = await _row(database, first["pager"])
    assert (row.state, row.channel, row.event, row.severity) == ("pending", "pager", "firing", "P1")
    assert wire.requests == []  # nothing is sent by the enqueuer


async def test_a_later_sequence_is_a_new_notification(
    make_notifier: NotifierFactory, wire: WireServer, database: Database
) -> None:
    notifier = make_notifier([pagerduty(wire=wire)])
    first = await notifier.outbox.enqueue(message(), ["pager"])
    repeat = await notifier.outbox.enqueue(message(), ["pager"], sequence=1)
    assert first != repeat
    assert await _count(database) == 2


async def test_enqueue_in_the_callers_transaction_commits_or_rolls_back_with_it(
    make_notifier: NotifierFactory, wire: WireServer, database: Database
) -> None:
    notifier = make_notifier([pagerduty(wire=wire)])

    async def _enqueue_then_fail() -> None:
        async with database.session() as session:
            await notifier.outbox.enqueue(message("lost"), ["pager"], session=session)
            raise RuntimeError("the caller's own write failed")

    with pytest.raises(RuntimeError):
        await _enqueue_then_fail()
    assert await _count(database) == 0
    async with database.session() as session:
        ids = await notifier.outbox.enqueue(message("kept"), ["pager"], session=session)
    assert (await _row(database, ids["pager"])).fingerprint == "kept"


async def test_an_unknown_channel_is_refused_before_anything_is_written(
    make_notifier: NotifierFactory, wire: WireServer, database: Database
) -> None:
    notifier = make_notifier([pagerduty(wire=wire)])
    with pytest.raises(NotFoundError, match="nowhere"):
        await notifier.outbox.enqueue(message(), ["pager", "nowhere"])
    assert await _count(database) == 0


async def test_the_enqueuer_wakes_the_worker_at_once(
    make_notifier: NotifierFactory, wire: WireServer, database: Database
) -> None:
    notifier = make_notifier([pagerduty(wire=wire)])
    # An hour-long poll: only the wake-up can deliver within the test.
    notifier.worker(poll_interval_s=3600).start()
    ids = await notifier.outbox.enqueue(message(), ["pager"])

    async def _delivered() -> bool:
        return (await _row(database, ids["pager"])).state == "delivered"

    await eventually(_delivered)
    event = wire.of("pagerduty")[0].body
    assert event["routing_key"] == PD_KEY
    assert event["dedup_key"] == "alert-1"
    assert event["event_action"] == "trigger"


async def test_transient_failures_are_retried_with_backoff_until_delivered(
    make_notifier: NotifierFactory, wire: WireServer, database: Database, clock: ManualClock
) -> None:
    notifier = make_notifier([pagerduty(wire=wire)])
    worker = notifier.worker(random=lambda: 1.0)
    wire.fail("pagerduty", 503, times=2)
    ids = await notifier.outbox.enqueue(message(), ["pager"])

    assert await worker.run_once() == 1
    row = await _row(database, ids["pager"])
    assert (row.state, row.attempts) == ("pending", 1)
    assert row.next_attempt_at.timestamp() == pytest.approx(clock.now() + 1.0)
    assert await worker.run_once() == 0  # not due yet

    clock.advance(1.0)
    assert await worker.run_once() == 1
    row = await _row(database, ids["pager"])
    assert row.next_attempt_at.timestamp() == pytest.approx(clock.now() + 2.0)  # doubled

    clock.advance(2.0)
    assert await worker.run_once() == 1
    row = await _row(database, ids["pager"])
    assert (row.state, row.attempts, row.last_error) == ("delivered", 3, None)
    async with database.read_session() as session:
        attempts = await NotificationRepository(session).attempts(ids["pager"])
    assert [(a.number, a.outcome, a.status_code) for a in attempts] == [
        (1, "transient", 503),
        (2, "transient", 503),
        (3, "ok", 202),
    ]
    assert "HTTP 503" in (attempts[0].error or "")


async def test_a_retry_after_is_honoured(
    make_notifier: NotifierFactory, wire: WireServer, database: Database, clock: ManualClock
) -> None:
    notifier = make_notifier([pagerduty(wire=wire)])
    worker = notifier.worker(random=lambda: 0.0)
    wire.fail("pagerduty", 429, headers={"Retry-After": "30"})
    ids = await notifier.outbox.enqueue(message(), ["pager"])
    await worker.run_once()
    row = await _row(database, ids["pager"])
    assert row.next_attempt_at.timestamp() == pytest.approx(clock.now() + 30.0)


async def test_a_permanent_failure_fails_at_once_and_the_fallback_gets_a_copy(
    make_notifier: NotifierFactory, wire: WireServer, database: Database
) -> None:
    notifier = make_notifier([pagerduty(wire=wire, fallback="hook"), webhook()])
    worker = notifier.worker()
    wire.fail("pagerduty", 400)
    ids = await notifier.outbox.enqueue(message(), ["pager"])

    await worker.run_once()  # PagerDuty refuses
    row = await _row(database, ids["pager"])
    assert row.state == "failed"
    assert "permanent failure" in (row.last_error or "")
    await worker.run_once()  # the fallback's copy
    async with database.read_session() as session:
        rows = await NotificationRepository(session).list()
    copy = next(r for r in rows if r.channel == "hook")
    assert (copy.state, copy.fallback_of) == ("delivered", ids["pager"])
    delivered = wire.of("webhook")[0].body
    assert "Bot alert-1 stopped trading" in delivered["title"]
    assert _failures(notifier, "pager") == 1


async def test_the_deadline_ends_retries_and_hands_over_to_the_fallback(
    make_notifier: NotifierFactory, wire: WireServer, database: Database, clock: ManualClock
) -> None:
    short = RetryConfig(initial_backoff_s=10, max_backoff_s=10, deadline_s=15, timeout_s=5)
    notifier = make_notifier([pagerduty(wire=wire, fallback="hook", retry=short), webhook()])
    worker = notifier.worker(random=lambda: 1.0)
    wire.fail("pagerduty", 500, times=10)
    ids = await notifier.outbox.enqueue(message(), ["pager"])
    await worker.run_once()  # retry at +10 s: within the deadline
    assert (await _row(database, ids["pager"])).state == "pending"
    clock.advance(10)
    await worker.run_once()  # the next retry would be at +20 s: past it
    row = await _row(database, ids["pager"])
    assert row.state == "failed"
    assert "deadline passed after 2 attempts" in (row.last_error or "")
    await worker.run_once()
    assert len(wire.of("webhook")) == 1


async def test_the_rate_limit_spaces_sends_without_spending_attempts(
    make_notifier: NotifierFactory, wire: WireServer, database: Database, clock: ManualClock
) -> None:
    limited = pagerduty(wire=wire, rate_limit=RateLimitConfig(per_second=0.5, burst=2))
    notifier = make_notifier([limited])
    worker = notifier.worker()
    ids = [(await notifier.outbox.enqueue(message(f"a{n}"), ["pager"]))["pager"] for n in range(4)]
    await worker.run_once()
    assert len(wire.of("pagerduty")) == 2  # the burst
    held = [await _row(database, i) for i in ids]
    waiting = sorted(
        (row.next_attempt_at.timestamp() - clock.now(), row.attempts)
        for row in held
        if row.state == "pending"
    )
    assert waiting == [(pytest.approx(2.0), 0), (pytest.approx(4.0), 0)]  # a slot each
    clock.advance(2.0)
    assert await worker.run_once() == 1
    assert len(wire.of("pagerduty")) == 3
    clock.advance(2.0)
    assert await worker.run_once() == 1
    assert len(wire.of("pagerduty")) == 4


async def test_two_instances_racing_for_the_same_rows_deliver_each_once(
    database_url: str, clock: ManualClock, wire: WireServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TW_TEST_PD_KEY", PD_KEY)
    databases = [Database(database_url), Database(database_url)]
    notifiers = [
        Notifier(db, clock, [pagerduty(wire=wire)], registry=CollectorRegistry())
        for db in databases
    ]
    try:
        for n in range(60):
            await notifiers[n % 2].outbox.enqueue(message(f"storm-{n}"), ["pager"])
        workers = [notifier.worker(batch_size=7) for notifier in notifiers]

        async def _drain(worker: object) -> int:
            handled = 0
            while count := await worker.run_once():  # type: ignore[attr-defined]
                handled += count
            return handled

        handled = await asyncio.gather(*(_drain(w) for w in workers))
        assert sum(handled) == 60
        keys = [request.body["dedup_key"] for request in wire.of("pagerduty")]
        assert sorted(keys) == sorted(f"storm-{n}" for n in range(60))
    finally:
        for notifier in notifiers:
            await notifier.aclose()
        for db in databases:
            await db.dispose()


async def test_a_worker_killed_mid_send_leaves_a_lease_that_expires_and_is_redelivered(
    make_notifier: NotifierFactory, wire: WireServer, database: Database, clock: ManualClock
) -> None:
    notifier = make_notifier([pagerduty(wire=wire)])
    doomed, survivor = notifier.worker(lease_s=60), notifier.worker(lease_s=60)
    ids = await notifier.outbox.enqueue(message(), ["pager"])
    wire.hang("pagerduty")
    killed = asyncio.create_task(doomed.run_once())
    await eventually(lambda: len(wire.of("pagerduty")) == 1)
    killed.cancel()  # the process dies mid-send: nothing is written back
    with pytest.raises(asyncio.CancelledError):
        await killed
    wire.release("pagerduty")

    assert await survivor.run_once() == 0  # the lease still holds
    clock.advance(61)
    assert await survivor.run_once() == 1
    row = await _row(database, ids["pager"])
    assert (row.state, row.attempts, row.claim_token) == ("delivered", 1, None)
    assert len(wire.of("pagerduty")) == 2


async def test_a_worker_that_lost_its_claim_does_not_overwrite_the_new_owner(
    make_notifier: NotifierFactory, wire: WireServer, database: Database, clock: ManualClock
) -> None:
    notifier = make_notifier([pagerduty(wire=wire)])
    # The slow one's process stalls: no renewal happens before its lease ends.
    slow = notifier.worker(lease_s=1, renew_every_s=3600)
    other = notifier.worker(lease_s=60)
    ids = await notifier.outbox.enqueue(message(), ["pager"])
    wire.hang("pagerduty")
    first = asyncio.create_task(slow.run_once())
    await eventually(lambda: len(wire.of("pagerduty")) == 1)
    clock.advance(2)  # the slow worker's lease ran out while it waited
    wire.release("pagerduty")
    wire.hang("pagerduty")
    second = asyncio.create_task(other.run_once())
    await eventually(lambda: len(wire.of("pagerduty")) == 2)
    await first  # its result is not written: the row is the other's now
    row = await _row(database, ids["pager"])
    assert row.state == "pending"
    assert row.claim_token is not None
    wire.release("pagerduty")
    await second
    assert (await _row(database, ids["pager"])).state == "delivered"


async def test_an_unreachable_store_is_a_store_error_for_the_enqueuer_and_no_crash_for_workers(
    clock: ManualClock,
    wire: WireServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from support.net import free_port
    from tradewarden.errors import StoreError

    monkeypatch.setenv("TW_TEST_PD_KEY", PD_KEY)
    database = Database(f"postgresql://postgres@127.0.0.1:{free_port()}/none", ping_timeout_s=1)
    notifier = Notifier(database, clock, [pagerduty(wire=wire)], registry=CollectorRegistry())
    try:
        with pytest.raises(StoreError, match="could not store"):
            await notifier.outbox.enqueue(message(), ["pager"])
        worker = notifier.worker(poll_interval_s=0.01)
        worker.start()
        seen: list[str] = []

        def _failed_twice() -> bool:
            seen.append(capsys.readouterr().out)
            return "".join(seen).count("notify.outbox_unavailable") >= 2

        await eventually(_failed_twice)  # it logged, waited, tried again: still running
        await worker.stop()
    finally:
        await notifier.aclose()
        await database.dispose()


async def test_long_keys_fit_and_stay_distinct(
    make_notifier: NotifierFactory, wire: WireServer, database: Database
) -> None:
    long = "x" * 200
    notifier = make_notifier(
        [pagerduty("p" * 100, wire=wire, fallback="h" * 100), webhook("h" * 100)]
    )
    worker = notifier.worker()
    wire.fail("pagerduty", 400, times=2)
    first = await notifier.enqueue(message(long), ["p" * 100])
    second = await notifier.enqueue(message(long), ["p" * 100], sequence=1)
    assert first != second
    await worker.run_once()
    await worker.run_once()
    async with database.read_session() as session:
        rows = await NotificationRepository(session).list()
    assert len(rows) == 4
    assert all(len(row.key) <= 400 for row in rows)
    assert len({row.key for row in rows}) == 4


async def test_a_batch_that_outlasts_its_lease_keeps_it_by_renewing(
    make_notifier: NotifierFactory, wire: WireServer, database: Database, clock: ManualClock
) -> None:
    notifier = make_notifier([pagerduty(wire=wire)])
    busy = notifier.worker(lease_s=60, renew_every_s=0.01)
    rival = notifier.worker(lease_s=60)
    ids = await notifier.outbox.enqueue(message(), ["pager"])
    wire.hang("pagerduty")
    sending = asyncio.create_task(busy.run_once())
    await eventually(lambda: len(wire.of("pagerduty")) == 1)
    first_lease = (await _row(database, ids["pager"])).lease_expires_at
    clock.advance(50)

    async def _renewed() -> bool:
        return (await _row(database, ids["pager"])).lease_expires_at != first_lease

    await eventually(_renewed)
    clock.advance(50)  # past the first lease, within the renewed one
    assert await rival.run_once() == 0
    wire.release("pagerduty")
    await sending
    assert (await _row(database, ids["pager"])).state == "delivered"
    assert len(wire.of("pagerduty")) == 1


async def test_an_enqueue_in_the_callers_transaction_wakes_the_worker_when_it_commits(
    make_notifier: NotifierFactory, wire: WireServer, database: Database
) -> None:
    notifier = make_notifier([pagerduty(wire=wire)])
    notifier.worker(poll_interval_s=3600).start()
    await notifier.enqueue(message("first"), ["pager"])
    await eventually(lambda: len(wire.of("pagerduty")) == 1)  # the worker is now idle
    async with database.session() as session:
        ids = await notifier.enqueue(message(), ["pager"], session=session)

    async def _delivered() -> bool:
        return (await _row(database, ids["pager"])).state == "delivered"

    await eventually(_delivered)


async def test_a_row_for_a_channel_no_longer_configured_fails_visibly(
    make_notifier: NotifierFactory, wire: WireServer, database: Database
) -> None:
    before = make_notifier([pagerduty(wire=wire)])
    ids = await before.enqueue(message(), ["pager"])
    after = make_notifier([webhook()])  # a reload dropped "pager"
    await after.worker().run_once()
    row = await _row(database, ids["pager"])
    assert row.state == "failed"
    assert "'pager' is no longer configured" in (row.last_error or "")


async def test_a_stored_message_that_no_longer_validates_fails_at_once_and_falls_back(
    make_notifier: NotifierFactory, wire: WireServer, database: Database
) -> None:
    notifier = make_notifier([pagerduty(wire=wire, fallback="hook"), webhook()])
    ids = await notifier.enqueue(message(), ["pager"])
    async with database.session() as session:
        row = await NotificationRepository(session).get(ids["pager"])
        assert row is not None
        row.message = {**row.message, "severity": "P9"}  # as a future version might write
    worker = notifier.worker()
    await worker.run_once()
    failed = await _row(database, ids["pager"])
    assert failed.state == "failed"
    assert "stored message is not valid" in (failed.last_error or "")
    assert wire.of("pagerduty") == []
    await worker.run_once()  # the fallback's copy cannot be read either: it fails too
    async with database.read_session() as session:
        rows = await NotificationRepository(session).list()
    assert {(r.channel, r.state) for r in rows} == {("pager", "failed"), ("hook", "failed")}


async def test_a_channel_that_raises_is_retried_and_its_secret_is_masked(
    database: Database,
    clock: ManualClock,
    wire: WireServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    secret = "tgram://123456:SuperSecretBotToken/42"

    class Exploding:
        name = "boom"

        async def send(self, message: object, *, timeout_s: float) -> object:
            raise RuntimeError(f"plugin bug while posting to {secret}")

        async def aclose(self) -> None:
            pass

    channels = [webhook("boom", retry=RetryConfig(deadline_s=0.5, timeout_s=1))]
    notifier = Notifier(
        database,
        clock,
        channels,
        registry=CollectorRegistry(),
        channel_factory=lambda _configs: {"boom": Exploding()},  # type: ignore[dict-item]
    )
    try:
        notifier.scrubber.register(secret)
        ids = await notifier.enqueue(message(), ["boom"])
        await notifier.worker(random=lambda: 1.0).run_once()
        row = await _row(database, ids["boom"])
        assert row.state == "failed"  # transient, but the next try would pass the deadline
        assert "plugin bug" in (row.last_error or "")
        assert "SuperSecretBotToken" not in (row.last_error or "")
        assert "SuperSecretBotToken" not in capsys.readouterr().out
    finally:
        await notifier.aclose()
