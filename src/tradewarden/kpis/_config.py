"""The config file's ``kpis:`` section: the targets each KPI is held against.

The defaults are seed 004's ("Key Performance Indicators"): MTTR under 30 minutes, MTTD
under 5 minutes, acknowledgement within 5 minutes, alert noise under 10 %, more than
95 % of alerts acknowledged within 5 minutes, more than 90 % of P0/P1 incidents resolved
within 2 hours, and 99.95 % availability.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["KpiTargets", "KpisConfig"]


class KpiTargets(BaseModel):
    """What "met" means for each KPI (times: a mean at most this; ratios: see each)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mttd_s: float = Field(default=300.0, gt=0, description="Mean time to detect, at most.")
    mtta_s: float = Field(default=300.0, gt=0, description="Mean time to acknowledge, at most.")
    mttr_s: float = Field(default=1800.0, gt=0, description="Mean time to resolve, at most.")
    alert_noise_ratio: float = Field(
        default=0.10, ge=0, le=1, description="Share of noisy alerts, below."
    )
    ack_within_5m_ratio: float = Field(
        default=0.95, ge=0, le=1, description="Share acknowledged within 5 minutes, above."
    )
    p0p1_resolved_within_2h_ratio: float = Field(
        default=0.90, ge=0, le=1, description="Share of P0/P1 resolved within 2 hours, above."
    )
    availability_ratio: float = Field(
        default=0.9995, ge=0, le=1, description="Each monitor's availability, at least."
    )


class KpisConfig(BaseModel):
    """The KPIs' targets and how often the exported metrics are recomputed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    targets: KpiTargets = KpiTargets()
    # The trailing-7-day metrics are recomputed in the background this often (0: never).
    refresh_interval_s: float = Field(default=60.0, ge=0, le=3_600)
