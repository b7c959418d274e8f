"""Flips made durable in the store, on both back ends."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import event

from tradewarden.probes import Flip, StoreFlipRecorder
from tradewarden.store import Database, FlipRepository


async def test_flips_are_stored_and_the_latest_state_is_read_back(database_url: str) -> None:
    database = Database(database_url)
    recorder = StoreFlipRecorder(database)
    try:
        await recorder.record(Flip("api", "PENDING", "UP", "check passed", 1_800_000_000.0))
        await recorder.record(Flip("api", "UP", "DOWN", "2 consecutive failures", 1_800_000_060.0))
        await recorder.record(Flip("db", "PENDING", "UP", "check passed", 1_800_000_001.0))
        assert await recorder.latest_states() == {"api": "DOWN", "db": "UP"}
        async with database.read_session() as session:
            rows = await FlipRepository(session).list(monitor="api")
        assert [(row.old_state, row.new_state) for row in rows] == [
            ("UP", "DOWN"),
            ("PENDING", "UP"),
        ]
        assert rows[0].at.timestamp() == 1_800_000_060.0
    finally:
        await database.dispose()


async def test_a_long_reason_is_cut_not_refused(database_url: str) -> None:
    database = Database(database_url)
    recorder = StoreFlipRecorder(database)
    try:
        await recorder.record(Flip("api", "UP", "DOWN", "x" * 5000, 1.0))
        async with database.read_session() as session:
            (row,) = await FlipRepository(session).list(monitor="api")
        assert len(row.reason) == 2000
    finally:
        await database.dispose()


async def test_a_burst_of_flips_shares_few_transactions_and_every_one_is_stored(
    database_url: str,
) -> None:
    database = Database(database_url)
    recorder = StoreFlipRecorder(database, max_batch=50)
    commits: list[int] = []
    event.listen(database.engine.sync_engine, "commit", lambda _conn: commits.append(1))
    try:
        flips = [Flip(f"m{i:03d}", "PENDING", "UP", "check passed", 1.0 + i) for i in range(200)]
        await asyncio.gather(*(recorder.record(flip) for flip in flips))
        assert await recorder.latest_states() == {flip.monitor: "UP" for flip in flips}
        # All 200 are handed over before the writer first runs: 50 to a transaction.
        assert len(commits) == 4
    finally:
        await database.dispose()


async def test_a_failed_batch_fails_every_flip_in_it(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path}/no-such-dir/flips.db")  # cannot be opened
    recorder = StoreFlipRecorder(database)
    try:
        outcomes = await asyncio.gather(
            *(recorder.record(Flip(f"m{i}", "UP", "DOWN", "failed", 1.0)) for i in range(5)),
            return_exceptions=True,
        )
        assert all(isinstance(outcome, Exception) for outcome in outcomes)
        await recorder.aclose()
    finally:
        await database.dispose()


async def test_a_cancelled_caller_neither_stops_the_batch_nor_strands_the_others(
    database_url: str,
) -> None:
    database = Database(database_url)
    recorder = StoreFlipRecorder(database)
    try:
        first = asyncio.create_task(recorder.record(Flip("a", "PENDING", "UP", "ok", 1.0)))
        others = [
            asyncio.create_task(recorder.record(Flip(name, "PENDING", "UP", "ok", 2.0)))
            for name in ("b", "c", "d")
        ]
        await asyncio.sleep(0)  # every caller has handed its flip over
        first.cancel()
        await asyncio.gather(*others)
        await recorder.aclose()
        assert await recorder.latest_states() == dict.fromkeys("abcd", "UP")
    finally:
        await database.dispose()
