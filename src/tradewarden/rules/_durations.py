"""Prometheus durations (``1h30m``, ``5m``, ``0s``, ``100ms``) as integer milliseconds."""

from __future__ import annotations

import re

__all__ = ["format_duration", "parse_duration_ms"]

_DURATION = re.compile(
    r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$"
)
_UNITS_MS = (365 * 86_400_000, 7 * 86_400_000, 86_400_000, 3_600_000, 60_000, 1000, 1)


def parse_duration_ms(text: str) -> int:
    """Parse a Prometheus duration (``1h30m``, ``5m``, ``0s``, ``100ms``) to milliseconds."""
    match = _DURATION.match(text) if text not in ("", "0") else None
    if text == "0":
        return 0
    if match is None:
        raise ValueError(f'not a valid duration string: "{text}"')
    return sum(int(g) * unit for g, unit in zip(match.groups(), _UNITS_MS, strict=True) if g)


def format_duration(ms: int) -> str:
    """Write milliseconds as Prometheus does (``1h30m``, ``0s``)."""
    if ms == 0:
        return "0s"
    out = []
    for unit, suffix in zip(_UNITS_MS, ("y", "w", "d", "h", "m", "s", "ms"), strict=True):
        count, ms = divmod(ms, unit)
        if count:
            out.append(f"{count}{suffix}")
    return "".join(out)
