"""The config file's ``metrics:`` section and ``scrape_configs:``, Prometheus-like.

Durations take seconds (``5``) or Prometheus's notation (``5s``, ``1m30s``, ``500ms``);
sizes take bytes or ``10MB``/``10MiB``. Secrets come only from ``*_env`` / ``*_file``: an
inline ``password`` or ``bearer_token`` is refused, as the monitors refuse them over the API.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from tradewarden.probes._secrets import EnvName

__all__ = [
    "BasicAuthConfig",
    "MetricsConfig",
    "ScrapeConfig",
    "StaticConfig",
    "check_unique_jobs",
    "parse_duration_s",
    "parse_size_bytes",
]

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)")
_UNITS_S = {
    "ms": 0.001,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
    "d": 86400.0,
    "w": 604800.0,
    "y": 31536000.0,
}
_SIZE = re.compile(r"(\d+)\s*(B|KB|MB|GB|KiB|MiB|GiB)?")
_SIZE_UNITS = {
    None: 1,
    "B": 1,
    "KB": 1000,
    "MB": 1000**2,
    "GB": 1000**3,
    "KiB": 1024,
    "MiB": 1024**2,
    "GiB": 1024**3,
}
_TARGET = re.compile(r"^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]+):\d{1,5}$")
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


def parse_duration_s(value: Any) -> Any:
    """Seconds from a number or a Prometheus duration (``1m30s``); other input unchanged."""
    if isinstance(value, str):
        text = value.strip()
        if not text or _DURATION_PART.sub("", text):
            raise ValueError(f"invalid duration {value!r} (use seconds or e.g. 5s, 1m, 500ms)")
        return sum(float(n) * _UNITS_S[u] for n, u in _DURATION_PART.findall(text))
    return value


def parse_size_bytes(value: Any) -> Any:
    """Bytes from a number or a size with a unit (``10MB``, ``16MiB``)."""
    if isinstance(value, str):
        match = _SIZE.fullmatch(value.strip())
        if match is None:
            raise ValueError(f"invalid size {value!r} (use bytes or e.g. 10MB, 16MiB)")
        return int(match.group(1)) * _SIZE_UNITS[match.group(2)]
    return value


Seconds = Annotated[float, BeforeValidator(parse_duration_s)]
Bytes = Annotated[int, BeforeValidator(parse_size_bytes)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MetricsConfig(_Section):
    """The embedded series store: how long and how much it keeps, and its snapshot."""

    retention_s: Seconds = Field(default=2 * 3600.0, gt=0)
    max_bytes: Bytes = Field(default=256 * 1024 * 1024, ge=1024 * 1024)
    # Default: <data dir>/series.snapshot (TRADEWARDEN_DATA_DIR, .tradewarden).
    snapshot_path: Path | None = None
    # 0: no periodic snapshot (still one at shutdown); snapshots off: snapshot_enabled.
    snapshot_interval_s: Seconds = Field(default=60.0, ge=0)
    snapshot_enabled: bool = True
    # The warden's own registry, read in process (job "tradewarden").
    self_scrape: bool = True
    self_scrape_interval_s: Seconds = Field(default=5.0, gt=0)


class StaticConfig(_Section):
    """A group of ``host:port`` targets sharing labels."""

    targets: tuple[str, ...] = Field(min_length=1)
    labels: dict[str, str] = Field(default_factory=dict)

    @field_validator("targets")
    @classmethod
    def _targets_are_addresses(cls, targets: tuple[str, ...]) -> tuple[str, ...]:
        for target in targets:
            if not _TARGET.match(target):
                raise ValueError(
                    f"target {target!r} must be host:port (scheme and path are set per job)"
                )
        return targets

    @field_validator("labels")
    @classmethod
    def _label_names(cls, labels: dict[str, str]) -> dict[str, str]:
        for name in labels:
            if not _LABEL_NAME.match(name) or name.startswith("__"):
                raise ValueError(f"invalid label name {name!r}")
        return labels


class BasicAuthConfig(_Section):
    """HTTP basic auth; the password from an environment variable or a file."""

    username: str = Field(min_length=1)
    password: str | None = None
    password_env: EnvName | None = None
    password_file: Path | None = None

    @model_validator(mode="after")
    def _one_password(self) -> Self:
        if self.password is not None:
            raise ValueError("inline password is not accepted: use password_env or password_file")
        if (self.password_env is None) == (self.password_file is None):
            raise ValueError("set exactly one of password_env, password_file")
        return self


class ScrapeConfig(_Section):
    """One scrape job, as in Prometheus's ``scrape_configs``."""

    job_name: str = Field(min_length=1, max_length=200)
    static_configs: tuple[StaticConfig, ...] = ()
    scheme: Literal["http", "https"] = "http"
    metrics_path: str = Field(default="/metrics", pattern=r"^/")
    params: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    scrape_interval: Seconds = Field(default=5.0, gt=0, le=86_400)
    # Default: 10 s, or the interval when that is shorter.
    scrape_timeout: Seconds | None = Field(default=None, gt=0)
    honor_labels: bool = False
    honor_timestamps: bool = True
    # 0: no limit. More samples than this fail the scrape (Prometheus's sample_limit).
    sample_limit: int = Field(default=0, ge=0)
    # 0: no limit. A bigger (uncompressed) body fails the scrape.
    body_size_limit: Bytes = Field(default=16 * 1024 * 1024, ge=0)
    basic_auth: BasicAuthConfig | None = None
    bearer_token: str | None = None
    bearer_token_env: EnvName | None = None
    bearer_token_file: Path | None = None

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.bearer_token is not None:
            raise ValueError(
                "inline bearer_token is not accepted: use bearer_token_env or bearer_token_file"
            )
        if self.bearer_token_env is not None and self.bearer_token_file is not None:
            raise ValueError("set at most one of bearer_token_env, bearer_token_file")
        if self.basic_auth is not None and (self.bearer_token_env or self.bearer_token_file):
            raise ValueError("set basic_auth or a bearer token, not both")
        if self.scrape_timeout is not None and self.scrape_timeout > self.scrape_interval:
            raise ValueError(
                f"scrape_timeout ({self.scrape_timeout:g} s) is longer than scrape_interval "
                f"({self.scrape_interval:g} s)"
            )
        return self

    @property
    def timeout_s(self) -> float:
        """The effective scrape timeout."""
        if self.scrape_timeout is not None:
            return self.scrape_timeout
        return min(10.0, self.scrape_interval)


def check_unique_jobs(configs: tuple[ScrapeConfig, ...]) -> tuple[ScrapeConfig, ...]:
    """Raise ValueError when two jobs share a name."""
    seen: set[str] = set()
    for config in configs:
        if config.job_name in seen:
            raise ValueError(f"job_name {config.job_name!r} is used twice")
        seen.add(config.job_name)
    return configs
