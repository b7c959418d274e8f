"""One series' samples: an open head of two arrays and sealed, compressed chunks.

A sealed chunk holds up to :data:`CHUNK_SAMPLES` samples as one zlib-compressed payload of
the timestamp deltas (``array('i')``, or ``array('q')`` when a gap does not fit 32 bits)
followed by the values XOR-ed with their predecessor (``array('Q')``). Scrapes at a steady
interval give constant deltas, and gauges and counters that change slowly give XORs that
are mostly zero bytes: both compress to a byte or two per sample, the head costs 16.
Stale markers survive the round trip bit for bit (the arrays copy doubles as raw bits).

A sealed chunk is one ``bytes`` object: a fixed header (first and last timestamp, count,
width) and the payload. ``bytes`` holds no references, so the garbage collector never
walks it: a store of 50,000 series with two hours of chunks is a few objects per series
for a full collection to visit, not one per chunk.
"""

from __future__ import annotations

import operator
import struct
import sys
import zlib
from array import array
from bisect import bisect_left, bisect_right
from itertools import accumulate

__all__ = [
    "CHUNK_HEADER_BYTES",
    "CHUNK_SAMPLES",
    "SealedChunk",
    "chunk_count",
    "chunk_first_t",
    "chunk_last_t",
    "chunk_nbytes",
    "decode_chunk",
    "encode_chunk",
    "window",
]

CHUNK_SAMPLES = 120
_INT32_MAX = 2**31 - 1
_META = struct.Struct("<qqIB")  # first_t, last_t, count, wide (deltas as 64-bit integers)
CHUNK_HEADER_BYTES = _META.size
# What a chunk costs besides its length: the bytes object's header and its list slot.
_CHUNK_OVERHEAD = sys.getsizeof(b"") + 8

SealedChunk = bytes


def chunk_first_t(chunk: SealedChunk) -> int:
    """The chunk's oldest timestamp."""
    first: int = _META.unpack_from(chunk)[0]
    return first


def chunk_last_t(chunk: SealedChunk) -> int:
    """The chunk's newest timestamp."""
    last: int = _META.unpack_from(chunk)[1]
    return last


def chunk_count(chunk: SealedChunk) -> int:
    """How many samples the chunk holds."""
    count: int = _META.unpack_from(chunk)[2]
    return count


def chunk_nbytes(chunk: SealedChunk) -> int:
    """The memory this chunk holds (estimate used for the budget)."""
    return _CHUNK_OVERHEAD + len(chunk)


def encode_chunk(timestamps: array[int], values: array[float]) -> SealedChunk:
    """Compress a run of samples (at least one) into a sealed chunk."""
    count = len(timestamps)
    # map() over two offset views runs the loops in C (several times faster than Python).
    deltas = list(map(operator.sub, timestamps[1:], timestamps))
    wide = max(deltas, default=0) > _INT32_MAX
    delta_array = array("q" if wide else "i", deltas)
    bits = array("Q")
    bits.frombytes(values.tobytes())
    xored = array("Q", bits[:1])
    xored.extend(map(operator.xor, bits[1:], bits))
    payload = zlib.compress(delta_array.tobytes() + xored.tobytes(), 1)
    return _META.pack(timestamps[0], timestamps[-1], count, wide) + payload


def decode_chunk(chunk: SealedChunk) -> tuple[array[int], array[float]]:
    """Return the chunk's timestamps and values."""
    first_t, _, count, wide = _META.unpack_from(chunk)
    raw = zlib.decompress(memoryview(chunk)[_META.size :])
    delta_array = array("q" if wide else "i")
    split = (count - 1) * delta_array.itemsize
    delta_array.frombytes(raw[:split])
    xored = array("Q")
    xored.frombytes(raw[split:])
    timestamps = array("q", accumulate(delta_array, initial=first_t))
    bits = array("Q", accumulate(xored, operator.xor))
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
