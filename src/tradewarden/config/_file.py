"""The config file (``tradewarden.yaml``): its schema and a loader whose errors point home.

An error names the file, the line and the field path (``auth.access_token_ttl_s``), so an
operator can fix it without guessing; the service refuses to start on any of them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from tradewarden.alerting import (
    InhibitRuleConfig,
    ReceiverConfig,
    RouteConfig,
    SeveritiesConfig,
    TimeInterval,
)
from tradewarden.alerting._config import (
    MaintenanceWindowConfig,
    check_maintenance_windows,
    check_receivers,
    check_route,
    check_severities,
    check_time_intervals,
)
from tradewarden.errors import ConfigError
from tradewarden.escalation._config import (
    PersonConfig,
    PolicyConfig,
    ScheduleConfig,
    check_escalation,
)
from tradewarden.incidents._config import IncidentsConfig
from tradewarden.kpis._config import KpisConfig
from tradewarden.notify._config import ChannelConfig, check_channels
from tradewarden.probes import MonitorSpec
from tradewarden.probes.kinds import MonitorConfig
from tradewarden.rules._config import RulesConfig
from tradewarden.runbooks._config import RunbooksConfig
from tradewarden.series._config import MetricsConfig, ScrapeConfig, check_unique_jobs

__all__ = [
    "AuthConfig",
    "ControlConfig",
    "LoginRateLimitConfig",
    "MetricsConfig",
    "ProbesConfig",
    "RedisConfig",
    "ScrapeConfig",
    "ServerConfig",
    "ServiceConfig",
    "load_config_file",
    "parse_config_text",
]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerConfig(_Section):
    """Where the API listens and how it treats requests."""

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    metrics_require_auth: bool = False
    docs_enabled: bool = True
    # /status checks dependencies at most this often; concurrent requests share one check.
    status_cache_s: float = Field(default=1.0, ge=0, le=60)


class LoginRateLimitConfig(_Section):
    """Failed-login budget per account and per client address within a window."""

    per_account: int = Field(default=5, ge=1)
    per_address: int = Field(default=20, ge=1)
    window_s: float = Field(default=900.0, gt=0)


class AuthConfig(_Section):
    """Token lifetimes and login protection."""

    access_token_ttl_s: int = Field(default=15 * 60, ge=30, le=24 * 3600)
    refresh_token_ttl_s: int = Field(default=30 * 24 * 3600, ge=60)
    login_rate_limit: LoginRateLimitConfig = LoginRateLimitConfig()


class RedisConfig(_Section):
    """How much the service leans on Redis (the URL itself is a secret: ``REDIS_URL``)."""

    required: bool = False
    connect_timeout_s: float = Field(default=2.0, gt=0)
    health_check_interval_s: float = Field(default=5.0, gt=0)


class ProbesConfig(_Section):
    """How the scheduler runs monitors."""

    max_concurrency: int = Field(default=256, ge=1, le=10_000)
    history_size: int = Field(default=100, ge=1, le=10_000)
    # How often to look for monitors other instances created, changed or deleted over the
    # API (0: only at start and reload).
    sync_interval_s: float = Field(default=30.0, ge=0, le=3_600)


class ControlConfig(_Section):
    """Where the warden reads and writes the bots' trading state and circuit breakers.

    The bots' ``KillSwitch`` must use the same back end: ``file`` is a SQLite file on this
    machine (``SQLiteBackend``), ``redis`` the keys under ``trading_state_prefix`` on
    ``REDIS_URL`` (``RedisBackend``), ``memory`` this process only (tests, demos).
    """

    trading_state_backend: Literal["memory", "file", "redis"] = "file"
    # Default: <data dir>/trading_state.db.
    trading_state_file: Path | None = None
    # Redis keys <prefix>:state, <prefix>:history and the channel <prefix>:changes.
    trading_state_prefix: str = Field(default="tradewarden:trading", min_length=1)
    history_limit: int = Field(default=1000, ge=1, le=100_000)
    # When true, /status is down (503) while the trading-state back end cannot be read;
    # otherwise that is only degraded.
    trading_state_required: bool = False
    # The shared breakers' hashes (<prefix><name>) and their announcement channel.
    breaker_prefix: str = Field(default="circuit_breaker:", min_length=1)
    breaker_channel: str = Field(default="circuit_breaker:events", min_length=1)
    # How long a breaker opened over the API (not forced) stays OPEN before half-open.
    breaker_timeout_s: float = Field(default=30.0, gt=0, le=86_400)
    # A Redis call by the control API gives up after this (then 503).
    redis_timeout_s: float = Field(default=1.0, gt=0, le=30)


class ServiceConfig(_Section):
    """The whole config file."""

    version: int = Field(default=1, ge=1, le=1)
    server: ServerConfig = ServerConfig()
    auth: AuthConfig = AuthConfig()
    redis: RedisConfig = RedisConfig()
    probes: ProbesConfig = ProbesConfig()
    control: ControlConfig = ControlConfig()
    monitors: tuple[MonitorConfig, ...] = ()
    # The embedded series store and what it scrapes (Prometheus's scrape_configs).
    metrics: MetricsConfig = MetricsConfig()
    scrape_configs: tuple[ScrapeConfig, ...] = ()
    # Alerting and recording rules (Prometheus rule files, the shipped packs).
    rules: RulesConfig = RulesConfig()
    # Where notifications go (notify/): Apprise URLs, Slack, PagerDuty; secrets from env/file.
    channels: tuple[ChannelConfig, ...] = ()
    # Alerting (alerting/), in Alertmanager's shape: a receiver is a list of channels.
    receivers: tuple[ReceiverConfig, ...] = ()
    time_intervals: tuple[TimeInterval, ...] = ()
    severities: SeveritiesConfig = SeveritiesConfig()
    route: RouteConfig | None = None
    inhibit_rules: tuple[InhibitRuleConfig, ...] = ()
    # Matchers muted like a silence, once or on a cron schedule (alerting/_maintenance.py).
    maintenance_windows: tuple[MaintenanceWindowConfig, ...] = ()
    # People, on-call schedules and escalation policies (escalation/).
    people: tuple[PersonConfig, ...] = ()
    schedules: tuple[ScheduleConfig, ...] = ()
    escalation_policies: tuple[PolicyConfig, ...] = Field(default=(), validate_default=True)
    # Runbooks (runbooks/): the bundled set, the user's folders, step connections.
    runbooks: RunbooksConfig = RunbooksConfig()
    # Which alerts open incidents (incidents/).
    incidents: IncidentsConfig = IncidentsConfig()
    # The KPIs' targets (kpis/): seed 004's by default.
    kpis: KpisConfig = KpisConfig()

    @field_validator("monitors")
    @classmethod
    def _unique_names(cls, monitors: tuple[MonitorSpec, ...]) -> tuple[MonitorSpec, ...]:
        seen: set[str] = set()
        for monitor in monitors:
            if monitor.name in seen:
                raise ValueError(f"monitor name {monitor.name!r} is used twice")
            seen.add(monitor.name)
        return monitors

    @field_validator("channels")
    @classmethod
    def _valid_channels(cls, channels: tuple[ChannelConfig, ...]) -> tuple[ChannelConfig, ...]:
        return check_channels(channels)

    @field_validator("receivers", "severities", "time_intervals", "route")
    @classmethod
    def _alerting_refs(cls, value: Any, info: ValidationInfo) -> Any:
        channels = {c.name for c in info.data.get("channels", ())}
        if info.field_name == "receivers":
            problems = check_receivers(value, channels)
        elif info.field_name == "severities":
            problems = check_severities(value, channels)
        elif info.field_name == "time_intervals":
            problems = check_time_intervals(value)
        elif value is not None:
            receivers = {r.name for r in info.data.get("receivers", ())} | channels
            intervals = {i.name for i in info.data.get("time_intervals", ())}
            problems = check_route(value, receivers, intervals)
        else:
            problems = []
        if problems:
            raise ValueError("; ".join(problems))
        return value

    @field_validator("maintenance_windows")
    @classmethod
    def _unique_windows(
        cls, windows: tuple[MaintenanceWindowConfig, ...]
    ) -> tuple[MaintenanceWindowConfig, ...]:
        if problems := check_maintenance_windows(windows):
            raise ValueError("; ".join(problems))
        return windows

    @field_validator("escalation_policies")
    @classmethod
    def _escalation_refs(
        cls, policies: tuple[PolicyConfig, ...], info: ValidationInfo
    ) -> tuple[PolicyConfig, ...]:
        channels = {c.name for c in info.data.get("channels", ())}
        people, schedules = info.data.get("people", ()), info.data.get("schedules", ())
        check_escalation(people, schedules, policies, channels)
        return policies

    @field_validator("scrape_configs")
    @classmethod
    def _unique_jobs(cls, configs: tuple[ScrapeConfig, ...]) -> tuple[ScrapeConfig, ...]:
        return check_unique_jobs(configs)


def load_config_file(path: Path | None) -> ServiceConfig:
    """Read and validate ``path``; no path means the defaults."""
    if path is None:
        return ServiceConfig()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: config file not found") from exc
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc.strerror or exc}") from exc
    return parse_config_text(text, source=str(path))


def parse_config_text(text: str, *, source: str = "<config>") -> ServiceConfig:
    """Validate YAML ``text``; errors name ``source``, the line and the field path."""
    yaml = YAML(typ="rt")
    try:
        document = yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = exc.problem or exc.context or "invalid YAML"
        raise ConfigError(f"{source}{line}: invalid YAML: {problem}") from exc
    except YAMLError as exc:
        raise ConfigError(f"{source}: invalid YAML: {exc}") from exc
    if document is None:
        document = CommentedMap()
    if not isinstance(document, dict):
        raise ConfigError(f"{source}:1: the config file must be a mapping of sections")
    try:
        return ServiceConfig.model_validate(_plain(document))
    except ValidationError as exc:
        raise ConfigError(_describe(exc, document, source)) from exc


def _plain(node: Any) -> Any:
    if isinstance(node, dict):
        return {str(key): _plain(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_plain(item) for item in node]
    return node


def _describe(exc: ValidationError, document: Any, source: str) -> str:
    lines = []
    for error in exc.errors(include_input=False):
        loc = _without_union_tags(document, tuple(error["loc"]))
        path = ".".join(str(part) for part in loc) or "(top level)"
        line = _line_of(document, loc)
        where = f"{source}:{line}" if line is not None else source
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown field"
        lines.append(f"{where}: {path}: {message}")
    return "\n".join(lines)


def _without_union_tags(document: Any, loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """Drop the ``kind`` tags pydantic puts in the error path of a tagged union.

    ``monitors.0.http.url`` becomes ``monitors.0.url``: the user wrote ``kind: http``, not
    an ``http:`` section.
    """
    node = document
    kept: list[Any] = []
    for part in loc:
        if isinstance(node, dict) and part not in node and node.get("kind") == part:
            continue
        kept.append(part)
        if (isinstance(node, dict) and part in node) or (
            isinstance(node, list) and isinstance(part, int) and part < len(node)
        ):
            node = node[part]
        else:
            node = None
    return tuple(kept)


def _line_of(document: Any, loc: tuple[Any, ...]) -> int | None:
    """Return the 1-based line of the deepest node of ``loc`` present in the document."""
    node = document
    line: int | None = None
    for part in loc:
        if isinstance(node, CommentedMap) and part in node:
            position = node.lc.key(part)
            line = position[0] + 1
            node = node[part]
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and part < len(node):
            position = node.lc.item(part)
            line = position[0] + 1
            node = node[part]
        else:
            break
    if line is None and isinstance(document, CommentedMap) and document.lc.line is not None:
        return int(document.lc.line) + 1
    return line
