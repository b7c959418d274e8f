"""One series' samples: an open head of two arrays and sealed, compressed chunks.

A sealed chunk holds up to :data:`CHUNK_SAMPLES` samples as one zlib-compressed payload of
the timestamp deltas (``array('i')``, or ``array('q')`` when a gap does not fit 32 bits)
followed by the values XOR-ed with their predecessor (``array('Q')``). Scrapes at a steady
interval give constant deltas, and gauges and counters that change slowly give XORs that
are mostly zero bytes: both compress to a byte or two per sample, the head costs 16.
Stale markers survive the round trip bit for bit (the arrays copy doubles as raw bits).
"""

from __future__ import annotations

import sys
import zlib
from array import array
from bisect import bisect_left, bisect_right
from dataclasses import dataclass

__all__ = ["CHUNK_SAMPLES", "SealedChunk", "decode_chunk", "encode_chunk", "window"]

CHUNK_SAMPLES = 120
_INT32_MAX = 2**31 - 1
# What a SealedChunk costs besides its payload: the object with its slots, the bytes header.
_CHUNK_OVERHEAD = 80 + sys.getsizeof(b"")


@dataclass(frozen=True, slots=True)
class SealedChunk:
    """An immutable, compressed run of samples, oldest first."""

    first_t: int
    last_t: int
    count: int
    wide: bool  # deltas stored as 64-bit integers
    payload: bytes

    @property
    def nbytes(self) -> int:
        """The memory this chunk holds (estimate used for the budget)."""
        return _CHUNK_OVERHEAD + len(self.payload)


def encode_chunk(timestamps: array[int], values: array[float]) -> SealedChunk:
    """Compress a run of samples (at least one) into a sealed chunk."""
    count = len(timestamps)
    deltas = [timestamps[i] - timestamps[i - 1] for i in range(1, count)]
    wide = any(d > _INT32_MAX for d in deltas)
    delta_array = array("q" if wide else "i", deltas)
    bits = array("Q")
    bits.frombytes(values.tobytes())
    xored = array("Q", [bits[0]]) if count else array("Q")
    xored.extend(bits[i] ^ bits[i - 1] for i in range(1, count))
    payload = zlib.compress(delta_array.tobytes() + xored.tobytes(), 1)
    return SealedChunk(timestamps[0], timestamps[-1], count, wide, payload)


def decode_chunk(chunk: SealedChunk) -> tuple[array[int], array[float]]:
    """Return the chunk's timestamps and values."""
    raw = zlib.decompress(chunk.payload)
    delta_array = array("q" if chunk.wide else "i")
    split = (chunk.count - 1) * delta_array.itemsize
    delta_array.frombytes(raw[:split])
    xored = array("Q")
    xored.frombytes(raw[split:])
    timestamps = array("q", [chunk.first_t])
    t = chunk.first_t
    for d in delta_array:
        t += d
        timestamps.append(t)
    bits = array("Q", [0] * chunk.count)
    previous = 0
    for i, x in enumerate(xored):
        previous ^= x
        bits[i] = previous
    values = array("d")
    values.frombytes(bits.tobytes())
    return timestamps, values


def window(
    timestamps: array[int], values: array[float], start_ms: int, end_ms: int
) -> tuple[array[int], array[float]]:
    """Return the samples of ``[start_ms, end_ms]``."""
    lo = bisect_left(timestamps, start_ms)
    hi = bisect_right(timestamps, end_ms)
    return timestamps[lo:hi], values[lo:hi]
