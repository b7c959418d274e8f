"""The store's snapshot on disk, and the keeper that writes it and applies retention.

File layout (little-endian)::

    b"TWSERIES" | u32 version | u32 crc32(body) | u64 len(body) | body
    body = zlib(u32 series, then per series:
                u32 len + labels as JSON pairs,
                u32 chunks, per chunk: u32 len + the sealed chunk (header inside),
                u32 head samples, head timestamps (q each), head values (d each))

Written to a temporary file, flushed to disk and renamed over the old one, so a crash
leaves either snapshot whole. A missing file is a first start; a foreign, newer, truncated
or corrupt one is logged and the store starts empty, never a crash. The store is copied on
the event loop in slices (chunks are immutable, heads are copied as bytes); the encoding,
compression and I/O run in a thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import struct
import zlib
from collections.abc import Iterable, Sequence
from pathlib import Path

from tradewarden.clock import Clock, SystemClock
from tradewarden.series._chunks import CHUNK_HEADER_BYTES, SealedChunk
from tradewarden.series._labels import Labels
from tradewarden.series._store import SeriesStore, StoredSeries

__all__ = ["SNAPSHOT_VERSION", "SeriesKeeper", "SnapshotError", "read_snapshot", "write_snapshot"]

logger = logging.getLogger("tradewarden.series")

MAGIC = b"TWSERIES"
SNAPSHOT_VERSION = 1
_HEADER = struct.Struct("<8sIIQ")
_U32 = struct.Struct("<I")
_SLICE = 500


class SnapshotError(Exception):
    """The snapshot file cannot be used; the message says why."""


def _records(item: StoredSeries) -> list[bytes]:
    labels = json.dumps(list(item.labels), separators=(",", ":")).encode()
    parts = [_U32.pack(len(labels)), labels, _U32.pack(len(item.chunks))]
    for chunk in item.chunks:
        parts += (_U32.pack(len(chunk)), chunk)
    parts += (_U32.pack(len(item.head_t) // 8), item.head_t, item.head_v)
    return parts


def encode_series(series: Iterable[StoredSeries]) -> bytes:
    """The body records of ``series`` (uncompressed)."""
    return b"".join(part for item in series for part in _records(item))


def write_snapshot(path: Path, series: Iterable[StoredSeries]) -> int:
    """Write ``series`` as a snapshot (blocking); return its size in bytes."""
    items = list(series)
    return write_encoded(path, len(items), [encode_series(items)])


def write_encoded(path: Path, count: int, blocks: Sequence[bytes]) -> int:
    """Write ``count`` series encoded in ``blocks`` atomically; return the file's size
    (blocking: run in a thread). zlib releases the GIL while it compresses."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    compressor = zlib.compressobj(1)
    crc = 0
    length = 0
    try:
        with temporary.open("wb") as handle:
            handle.write(_HEADER.pack(MAGIC, SNAPSHOT_VERSION, 0, 0))  # filled in below

            def emit(data: bytes) -> None:
                nonlocal crc, length
                if data:
                    crc = zlib.crc32(data, crc)
                    length += len(data)
                    handle.write(data)

            emit(compressor.compress(_U32.pack(count)))
            for block in blocks:
                emit(compressor.compress(block))
            emit(compressor.flush())
            handle.seek(0)
            handle.write(_HEADER.pack(MAGIC, SNAPSHOT_VERSION, crc, length))
            handle.flush()
            os.fsync(handle.fileno())
        temporary.replace(path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
    return _HEADER.size + length


def read_snapshot(path: Path) -> list[StoredSeries]:
    """Read a snapshot; raise SnapshotError when it is not one this warden wrote and reads."""
    data = path.read_bytes()
    if len(data) < _HEADER.size:
        raise SnapshotError("truncated header")
    magic, version, crc, length = _HEADER.unpack_from(data)
    if magic != MAGIC:
        raise SnapshotError("not a tradewarden series snapshot")
    if version != SNAPSHOT_VERSION:
        raise SnapshotError(f"snapshot version {version}, this warden reads {SNAPSHOT_VERSION}")
    body = data[_HEADER.size :]
    if len(body) != length:
        raise SnapshotError(f"truncated: {len(body)} of {length} bytes")
    if zlib.crc32(body) != crc:
        raise SnapshotError("checksum mismatch (corrupt file)")
    try:
        return _decode(zlib.decompress(body))
    except (zlib.error, struct.error, ValueError, TypeError, IndexError) as exc:
        raise SnapshotError(f"corrupt: {exc}") from None


def _decode(raw: bytes) -> list[StoredSeries]:
    view = memoryview(raw)
    (count,) = _U32.unpack_from(view, 0)
    pos = 4
    result: list[StoredSeries] = []
    for _ in range(count):
        (size,) = _U32.unpack_from(view, pos)
        pos += 4
        pairs = json.loads(bytes(view[pos : pos + size]))
        pos += size
        labels = Labels.from_pairs((str(k), str(v)) for k, v in pairs)
        (chunk_count,) = _U32.unpack_from(view, pos)
        pos += 4
        chunks: list[SealedChunk] = []
        for _ in range(chunk_count):
            (size,) = _U32.unpack_from(view, pos)
            pos += 4
            chunk = bytes(view[pos : pos + size])
            if len(chunk) != size or size < CHUNK_HEADER_BYTES:
                raise ValueError("chunk cut short")
            chunks.append(chunk)
            pos += size
        (head,) = _U32.unpack_from(view, pos)
        pos += 4
        head_t = bytes(view[pos : pos + 8 * head])
        head_v = bytes(view[pos + 8 * head : pos + 16 * head])
        pos += 16 * head
        if len(head_v) != 8 * head:
            raise ValueError("head cut short")
        result.append(StoredSeries(labels, tuple(chunks), head_t, head_v))
    if pos != len(raw):
        raise ValueError(f"{len(raw) - pos} bytes after the last series")
    return result


class SeriesKeeper:
    """Loads the snapshot at start, then applies retention and writes the snapshot on an
    interval and once more at stop."""

    def __init__(
        self,
        store: SeriesStore,
        path: Path | None,
        *,
        snapshot_interval_s: float = 60.0,
        clock: Clock | None = None,
    ) -> None:
        self._store = store
        self._path = path
        self._interval_s = snapshot_interval_s
        self._clock = clock or SystemClock()
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self.last_error = ""

    async def load(self) -> int:
        """Fill the (empty) store from the snapshot; return how many series were loaded."""
        path = self._path
        if path is None:
            return 0
        try:
            stored = await asyncio.to_thread(read_snapshot, path)
        except FileNotFoundError:
            return 0
        except (OSError, SnapshotError) as exc:
            logger.warning("series snapshot %s not loaded, starting empty: %s", path, exc)
            return 0
        self._store.import_series(stored)
        self._store.truncate(self._now_ms())
        logger.info("series snapshot %s: loaded %d series", path, len(self._store))
        return len(self._store)

    async def save(self) -> None:
        """Write the snapshot now (one at a time)."""
        path = self._path
        if path is None:
            return
        async with self._lock:
            # Each slice is encoded at once: the copies die young, and a big store does
            # not leave a second copy of itself in objects for the collector to walk.
            blocks: list[bytes] = []
            count = 0
            for batch in self._store.export_series(_SLICE):
                blocks.append(encode_series(batch))
                count += len(batch)
                await asyncio.sleep(0)  # let the loop breathe between slices
            try:
                await asyncio.to_thread(write_encoded, path, count, blocks)
            except OSError as exc:
                self.last_error = f"{path}: {exc.strerror or exc}"
                logger.warning("series snapshot not written: %s", self.last_error)
            else:
                self.last_error = ""

    def start(self) -> None:
        """Start the periodic retention and snapshot task."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="series keeper")

    async def stop(self) -> None:
        """Stop the task and write the final snapshot."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.save()

    async def _run(self) -> None:
        # Retention runs at least once a minute, whatever the snapshot interval.
        tick_s = min(60.0, self._interval_s) if self._interval_s > 0 else 60.0
        since_snapshot = 0.0
        while True:
            await asyncio.sleep(tick_s)
            self._store.truncate(self._now_ms())
            since_snapshot += tick_s
            if self._interval_s > 0 and since_snapshot >= self._interval_s:
                since_snapshot = 0.0
                try:
                    await self.save()
                except Exception:  # a bug in one snapshot must not end the task
                    logger.exception("series snapshot failed")

    def _now_ms(self) -> int:
        return int(self._clock.now() * 1000)
