"""Severities from labels: P0 critical, P1 high, P2 medium, P3 low.

The ``severity`` label is read first: ``P0``..``P3`` as such; the usual words
(``critical``/``page`` → P0, ``high``/``error``/``major`` → P1, ``warning``/``medium``/
``minor`` → P2, ``info``/``low``/``none`` → P3). Then a ``priority`` label in the seeds'
P1-P4 scheme (P1 critical .. P4 low, seed 001), which is one step off ours. Otherwise P2.
"""

from __future__ import annotations

from tradewarden.notify import Severity
from tradewarden.series import Labels

__all__ = ["DEFAULT_SEVERITY", "severity_of"]

DEFAULT_SEVERITY = Severity.P2

_WORDS = {
    "p0": Severity.P0,
    "p1": Severity.P1,
    "p2": Severity.P2,
    "p3": Severity.P3,
    "critical": Severity.P0,
    "page": Severity.P0,
    "emergency": Severity.P0,
    "fatal": Severity.P0,
    "high": Severity.P1,
    "error": Severity.P1,
    "major": Severity.P1,
    "warning": Severity.P2,
    "warn": Severity.P2,
    "medium": Severity.P2,
    "minor": Severity.P2,
    "info": Severity.P3,
    "low": Severity.P3,
    "none": Severity.P3,
    "notice": Severity.P3,
}
# The seeds' priorities (seed 001): P1 critical, P2 high, P3 medium, P4 low.
_PRIORITIES = {"p1": Severity.P0, "p2": Severity.P1, "p3": Severity.P2, "p4": Severity.P3}


def severity_of(labels: Labels) -> Severity:
    """Return the alert's severity from its ``severity`` or ``priority`` label."""
    word = labels.get("severity").strip().lower()
    if word in _WORDS:
        return _WORDS[word]
    priority = labels.get("priority").strip().lower()
    if priority in _PRIORITIES:
        return _PRIORITIES[priority]
    return _WORDS.get(priority, DEFAULT_SEVERITY)
