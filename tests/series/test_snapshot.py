"""The snapshot: a round trip keeps every sample bit for bit; a bad file means an empty start."""

from __future__ import annotations

import logging
import struct
from pathlib import Path

import pytest

from tradewarden.clock import ManualClock
from tradewarden.series import STALE_NAN, LabelMatcher, Labels, MatchOp
from tradewarden.series._snapshot import (
    MAGIC,
    SeriesKeeper,
    SnapshotError,
    read_snapshot,
    write_snapshot,
)
from tradewarden.series._store import SeriesStore

EVERYTHING = [LabelMatcher("__name__", MatchOp.NOT_EQUAL, "")]
NOW_S = 1_700_000_000.0


def _filled() -> SeriesStore:
    store = SeriesStore()
    base = int(NOW_S * 1000) - 3_000_000
    for i in range(50):
        labels = Labels.of(__name__="ALERTS_FOR_STATE" if i == 0 else "m", i=str(i), q='a"b\n')
        for n in range(500):  # sealed chunks and a head
            value = STALE_NAN if n == 250 else n * 0.5 + i
            store.append(labels, base + n * 5000, value)
    return store


def _dump(store: SeriesStore) -> dict[Labels, tuple[list[int], list[bytes]]]:
    return {
        s.labels: (list(s.timestamps), [struct.pack("<d", v) for v in s.values])
        for s in store.select(EVERYTHING, 0, 2**62)
    }


async def test_round_trip_through_the_keeper(tmp_path: Path) -> None:
    path = tmp_path / "state" / "series.snapshot"
    clock = ManualClock(NOW_S)
    store = _filled()
    keeper = SeriesKeeper(store, path, snapshot_interval_s=60, clock=clock)
    keeper.start()
    await keeper.stop()  # the final snapshot
    assert path.exists()
    assert not [p for p in path.parent.iterdir() if p != path]  # no temporary left
    restored = SeriesStore()
    assert await SeriesKeeper(restored, path, clock=clock).load() == 50
    assert _dump(restored) == _dump(store)
    assert restored.stats().samples == store.stats().samples
    # It goes on appending after the restored samples, and refuses older ones.
    labels = Labels.of(__name__="m", i="1", q='a"b\n')
    restored.append(labels, int(NOW_S * 1000), 1.0)
    restored.append(labels, 0, 1.0)
    assert restored.stats().out_of_order == 1


async def test_retention_applies_to_a_loaded_snapshot(tmp_path: Path) -> None:
    path = tmp_path / "series.snapshot"
    write_snapshot(path, [s for batch in _filled().export_series() for s in batch])
    store = SeriesStore(retention_ms=60_000)
    await SeriesKeeper(store, path, clock=ManualClock(NOW_S + 3600)).load()
    assert len(store) == 0


@pytest.mark.parametrize(
    ("mangle", "reason"),
    [
        (lambda data: b"PK\x03\x04" + data[4:], "not a tradewarden series snapshot"),
        (lambda data: data[:8] + struct.pack("<I", 99) + data[12:], "snapshot version 99"),
        (lambda data: data[:-10], "truncated"),
        (lambda data: data[:-1] + bytes([data[-1] ^ 0xFF]), "checksum mismatch"),
        (lambda data: data[:5], "truncated header"),
        (lambda _data: b"", "truncated header"),
    ],
)
async def test_a_bad_snapshot_is_logged_and_the_store_starts_empty(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, mangle: object, reason: str
) -> None:
    path = tmp_path / "series.snapshot"
    write_snapshot(path, [s for batch in _filled().export_series() for s in batch])
    path.write_bytes(mangle(path.read_bytes()))  # type: ignore[operator]
    store = SeriesStore()
    with caplog.at_level(logging.WARNING, logger="tradewarden.series"):
        assert await SeriesKeeper(store, path).load() == 0
    assert len(store) == 0
    assert reason in caplog.text


def test_a_corrupt_body_with_a_valid_checksum_is_refused(tmp_path: Path) -> None:
    import zlib

    body = zlib.compress(b"\x05\x00\x00\x00garbage")
    path = tmp_path / "series.snapshot"
    path.write_bytes(struct.pack("<8sIIQ", MAGIC, 1, zlib.crc32(body), len(body)) + body)
    with pytest.raises(SnapshotError, match="corrupt"):
        read_snapshot(path)


async def test_a_missing_snapshot_is_a_first_start(tmp_path: Path) -> None:
    assert await SeriesKeeper(SeriesStore(), tmp_path / "none").load() == 0


async def test_an_unwritable_path_is_reported_not_raised(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    keeper = SeriesKeeper(_filled(), blocker / "series.snapshot")
    await keeper.save()
    assert keeper.last_error
