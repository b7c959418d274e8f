"""The config file's ``incidents:`` section: which alerts open an incident."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from tradewarden.notify import Severity

__all__ = ["IncidentsConfig"]


class IncidentsConfig(BaseModel):
    """Open an incident for every firing alert of a severity in ``open_for``.

    ``enabled: false`` opens none automatically (incidents opened by hand still work).
    ``max_concurrent_diagnoses`` bounds the runbook runs going on at once.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    open_for: tuple[Severity, ...] = Field(default=(Severity.P0, Severity.P1))
    # Diagnoses (runbook runs) at once; more wait their turn. A storm of 100 P0 groups
    # opens 100 incidents, and 100 runbooks probing and writing their steps together
    # would crowd the store and the loop the alerting itself needs.
    max_concurrent_diagnoses: int = Field(default=4, ge=1, le=64)

    @field_validator("open_for")
    @classmethod
    def _unique(cls, value: tuple[Severity, ...]) -> tuple[Severity, ...]:
        if len(set(value)) != len(value):
            raise ValueError("a severity is listed twice")
        return value
