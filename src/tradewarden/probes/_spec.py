"""Monitor specifications: the fields every kind shares, and the failure policy.

Each kind subclasses ``MonitorSpec`` with ``kind: Literal["<name>"]`` and its own fields,
and implements ``build()`` returning its Probe. Specs are frozen and validated with
``extra="forbid"``: a typo in a config file or an API body is an error naming the field.
"""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from tradewarden.probes._model import Probe

__all__ = ["ConsecutivePolicy", "FailurePolicy", "MonitorName", "MonitorSpec", "RatePolicy"]

MonitorName = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$")]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ConsecutivePolicy(_Frozen):
    """DOWN after ``down_after`` failures in a row."""

    down_after: int = Field(default=2, ge=1, le=100)


class RatePolicy(_Frozen):
    """DOWN when at least ``rate`` of the last ``window`` results failed.

    ``min_results`` keeps a fresh monitor from going DOWN on its first failure.
    """

    rate: float = Field(gt=0, le=1)
    window: int = Field(default=10, ge=2, le=1000)
    min_results: int = Field(default=5, ge=1)

    @model_validator(mode="after")
    def _min_within_window(self) -> Self:
        if self.min_results > self.window:
            raise ValueError("min_results must not exceed window")
        return self


FailurePolicy = ConsecutivePolicy | RatePolicy


class MonitorSpec(_Frozen):
    """What every monitor has; kinds add their own fields."""

    name: MonitorName
    kind: str
    interval_s: float = Field(default=30.0, ge=0.5, le=86_400)
    timeout_s: float = Field(default=10.0, gt=0, le=3_600)
    failure: FailurePolicy = ConsecutivePolicy()
    labels: dict[
        Annotated[str, Field(pattern=r"^[a-zA-Z_][a-zA-Z0-9_]*$")],
        Annotated[str, Field(max_length=200)],
    ] = Field(default_factory=dict, max_length=20)
    paused: bool = False

    @field_validator("timeout_s")
    @classmethod
    def _timeout_within_interval(cls, timeout_s: float, info: ValidationInfo) -> float:
        interval_s = info.data.get("interval_s")
        if interval_s is not None and timeout_s > interval_s:
            raise ValueError(f"must not exceed interval_s ({interval_s:g})")
        return timeout_s

    def build(self) -> Probe:
        """Return the probe that checks this monitor's target."""
        raise NotImplementedError
