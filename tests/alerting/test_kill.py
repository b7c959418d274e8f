"""A dispatcher SIGKILLed in the middle of a storm's flushes: another instance over the
same store notifies every group, none twice."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from alerting._dispatch_child import build, outbox
from support.eventually import eventually
from tradewarden.store import Database, Notification

pytestmark = pytest.mark.slow

TESTS_DIR = Path(__file__).resolve().parent.parent
GROUPS, PER_GROUP = 100, 10


async def _count(database: Database) -> int:
    async with database.read_session() as session:
        return int(await session.scalar(select(func.count()).select_from(Notification)) or 0)


async def test_a_killed_storm_is_notified_once_per_group(database_url: str) -> None:
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "alerting._dispatch_child",
        database_url,
        str(GROUPS),
        str(PER_GROUP),
        cwd=TESTS_DIR,
        env={**os.environ, "PYTHONPATH": str(TESTS_DIR)},
        stdout=asyncio.subprocess.PIPE,
    )
    database = Database(database_url)
    try:
        try:
            assert child.stdout is not None
            line = await asyncio.wait_for(child.stdout.readline(), timeout=60)
            assert line.strip() == b"ingested"

            async def some_flushed() -> bool:
                return await _count(database) >= GROUPS // 5

            await eventually(some_flushed, timeout_s=60)
        finally:
            child.send_signal(signal.SIGKILL)
            await child.wait()
        assert await _count(database) < GROUPS  # killed mid-storm

        second = build(database, outbox(database).enqueue)
        await second.load()
        assert len(second.alerts) == GROUPS * PER_GROUP
        await second.flush_due()
        async with database.read_session() as session:
            rows = list((await session.scalars(select(Notification))).all())
        assert len(rows) == GROUPS
        assert len({row.fingerprint for row in rows}) == GROUPS
        assert {row.title for row in rows} == {
            f"[FIRING:{PER_GROUP}] BotDown host=h{g}" for g in range(GROUPS)
        }
        await second.flush_due()  # nothing is due again before group_interval
        assert await _count(database) == GROUPS
    finally:
        await database.dispose()
