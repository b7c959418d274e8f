"""The alert as the alerting side sees it: labels, annotations, times and where it came from.

The fingerprint is Alertmanager's (``model.LabelSet.Fingerprint``): FNV-1a 64 over the
sorted label names and values, each followed by the byte 0xff, written as 16 hex digits.
So an alert posted by Prometheus has the same fingerprint here as in Alertmanager.
Times are integer milliseconds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum

from tradewarden.series import Labels

__all__ = ["Alert", "Source", "fingerprint"]

_FNV_OFFSET = 14695981039346656037
_FNV_PRIME = 1099511628211
_MASK = (1 << 64) - 1
_SEPARATOR = 0xFF


def fingerprint(labels: Mapping[str, str] | Labels) -> str:
    """Return Alertmanager's fingerprint of a label set (16 lowercase hex digits)."""
    if isinstance(labels, Labels):
        return _fnv1a(labels)  # sorted by name already
    return _fnv1a(sorted(labels.items()))


def _fnv1a(
    pairs: Iterable[tuple[str, str]],
    _offset: int = _FNV_OFFSET,
    _prime: int = _FNV_PRIME,
    _mask: int = _MASK,
) -> str:
    # The constants as locals (defaults), and one join: a fifth faster than globals and a
    # generator, on the path of every alert received.
    parts = [part.encode() for pair in pairs for part in pair]
    data = b"\xff".join(parts) + b"\xff" if parts else b""
    h = _offset
    for byte in data:
        h = ((h ^ byte) * _prime) & _mask
    return f"{h:016x}"


class Source(StrEnum):
    """Where an alert came from."""

    RULES = "rules"
    MONITOR = "monitor"
    HEARTBEAT = "heartbeat"
    GUARD = "guard"
    PROMETHEUS = "prometheus"
    ALERTMANAGER = "alertmanager"
    WEBHOOK = "webhook"


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert: its identifying labels, annotations and when it is active.

    ``ends_at_ms`` is when the alert resolved, or (while firing) when a receiver may
    consider it over if it hears nothing more; ``None`` means open-ended (the warden sets
    a default end at ingest, as Alertmanager's ``resolve_timeout``).
    """

    labels: Labels
    annotations: Mapping[str, str] = field(default_factory=dict)
    starts_at_ms: int = 0
    ends_at_ms: int | None = None
    generator_url: str = ""
    source: Source = Source.RULES
    updated_at_ms: int = 0
    # Computed on first use and kept: FNV-1a in Python costs microseconds, and an alert's
    # fingerprint is asked for at every step of its way. Not an argument, so a copy made
    # by ``replace`` computes its own.
    _fingerprint: str = field(default="", init=False, repr=False, compare=False)

    @property
    def fingerprint(self) -> str:
        """Alertmanager's fingerprint of the label set."""
        known = self._fingerprint
        if not known:
            known = fingerprint(self.labels)
            object.__setattr__(self, "_fingerprint", known)  # a cache, not a change
        return known

    @property
    def name(self) -> str:
        """The ``alertname`` label."""
        return self.labels.get("alertname")

    def resolved(self, now_ms: int) -> bool:
        """Whether the alert is over at ``now_ms`` (its end has passed)."""
        return self.ends_at_ms is not None and self.ends_at_ms <= now_ms

    def merge(self, newer: Alert) -> Alert:
        """Return this alert updated by a newer report of the same label set
        (Alertmanager's merge: the earliest start, the newest end and annotations)."""
        starts = (
            min(self.starts_at_ms, newer.starts_at_ms) if self.starts_at_ms else newer.starts_at_ms
        )
        return replace(newer, starts_at_ms=starts)
