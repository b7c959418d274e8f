"""Flips made durable in the store, on both back ends."""

from __future__ import annotations

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
