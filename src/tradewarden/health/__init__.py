"""Readiness checks of the warden's own dependencies."""

from tradewarden.health._checks import (
    CheckStatus,
    DependencyCheck,
    Readiness,
    ReadinessReport,
    Verdict,
    check_dependencies,
    verdict,
)

__all__ = [
    "CheckStatus",
    "DependencyCheck",
    "Readiness",
    "ReadinessReport",
    "Verdict",
    "check_dependencies",
    "verdict",
]
