"""A delivering process killed with SIGKILL in a storm, the channel failing at first:
another worker delivers every notification, and only what was in flight can repeat."""

from __future__ import annotations

import asyncio
import collections
import os
import signal
import sys
import time
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from notify.conftest import PD_KEY, pagerduty
from support.eventually import eventually
from support.notify_wire import WireServer
from tradewarden.clock import ManualClock
from tradewarden.notify import Notifier
from tradewarden.store import Database, NotificationRepository

STORM = 300
BATCH = 20  # the child's batch: at most this many sends are in flight when it dies

TESTS_DIR = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


async def test_a_killed_deliverer_loses_nothing(
    database_url: str, wire: WireServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TW_TEST_PD_KEY", PD_KEY)
    wire.fail("pagerduty", 503, times=150)  # the channel fails for the first stretch
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "support.outbox_child",
        database_url,
        f"{wire.url}/v2/enqueue",
        str(STORM),
        cwd=TESTS_DIR,
        env={**os.environ, "PYTHONPATH": str(TESTS_DIR)},
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert child.stdout is not None
        line = await asyncio.wait_for(child.stdout.readline(), timeout=60)
        assert line.strip() == b"enqueued"
        # Killed mid-storm: after the failures, with part of the storm delivered.
        await eventually(lambda: len(wire.accepted) >= STORM // 3, timeout_s=60)
    finally:
        child.send_signal(signal.SIGKILL)
        await child.wait()
    assert len(wire.accepted) < STORM

    # Another instance, once the dead one's leases have run out.
    clock = ManualClock(start=time.time() + 120)
    database = Database(database_url)
    notifier = Notifier(database, clock, [pagerduty(wire=wire)], registry=CollectorRegistry())
    try:
        worker = notifier.worker(batch_size=50)
        for _ in range(1000):
            if not await worker.run_once():
                async with database.read_session() as session:
                    if await NotificationRepository(session).next_due() is None:
                        break
                clock.advance(10)  # a retry is due later: move on to it
        async with database.read_session() as session:
            rows = await NotificationRepository(session).list(limit=STORM + 10)
    finally:
        await notifier.aclose()
        await database.dispose()

    assert len(rows) == STORM
    assert {row.state for row in rows} == {"delivered"}
    pages = collections.Counter(request.body["dedup_key"] for request in wire.accepted)
    assert set(pages) == {f"storm-{n}" for n in range(STORM)}
    repeated = [key for key, count in pages.items() if count > 1]
    assert len(repeated) <= BATCH  # only sends in flight at the kill
