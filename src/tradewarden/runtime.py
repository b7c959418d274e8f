"""The running service: every long-lived component, built at start-up and closed at stop.

The API's lifespan and the CLI build one ``Runtime``; nothing here happens at import.
"""

from __future__ import annotations

import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import aiohttp
import httpx
from prometheus_client import CollectorRegistry, Gauge, PlatformCollector, ProcessCollector

from tradewarden._version import __version__
from tradewarden.alerting import Alerting, AlertingReload, check_alerting
from tradewarden.alerting._sink import FanOutAlertSink
from tradewarden.auth import (
    AccessTokenIssuer,
    AuthService,
    LoginRateLimiter,
    PasswordHasher,
    Principal,
    Role,
    generate_password,
    generate_signing_key,
)
from tradewarden.clock import Clock, SystemClock, utc_datetime
from tradewarden.config import ServiceConfig, Settings, load_config_file
from tradewarden.control import Control, open_control
from tradewarden.errors import ConfigError, ConflictError
from tradewarden.escalation import ACK_LINK_TTL_S, AckLinks, Escalator
from tradewarden.health import Readiness
from tradewarden.incidents import IncidentObserver, IncidentService, RunbookDiagnosis
from tradewarden.kpis import KpiMetrics, KpiService
from tradewarden.notify import Notifier
from tradewarden.probes import (
    HeartbeatBoard,
    MonitorCatalog,
    MonitorSpec,
    ProbeMetrics,
    ReloadSummary,
    Scheduler,
    StoreFlipRecorder,
    StoreHeartbeats,
    new_web_session,
)
from tradewarden.promql import Engine
from tradewarden.rules import (
    GroupSpec,
    MonitorRules,
    RuleCollector,
    RuleManager,
    build_rule_manager,
    load_rule_groups,
)
from tradewarden.runbooks import RunbookCatalog, RunbookRunner, load_runbooks
from tradewarden.runbooks._actions import ActionPresser
from tradewarden.series import SeriesKeeper, SeriesStore
from tradewarden.series._events import ControlSeries
from tradewarden.series._metrics import SeriesCollector
from tradewarden.series._probes import FanOutSink, StoreResultSink
from tradewarden.series._scrape import ScrapeManager
from tradewarden.store import Database, MetaRepository, upgrade
from tradewarden.telemetry import HttpMetrics

if TYPE_CHECKING:
    from tradewarden.redisconn import ManagedRedis

__all__ = [
    "NEXT_START_SECTIONS",
    "SYSTEM",
    "ConfigReload",
    "FirstAdmin",
    "Runtime",
    "build_registry",
    "print_first_admin",
]

SYSTEM = Principal(kind="system", id=0, name="tradewarden", role=Role.ADMIN)
_SIGNING_KEY = "jwt_signing_key"
FIRST_ADMIN_NAME = "admin"


@dataclass(frozen=True)
class FirstAdmin:
    """The admin created on first start; ``password`` is set only when it was generated."""

    username: str
    password: str | None


# What a reload does not apply: read at the next start (besides server, auth, redis).
NEXT_START_SECTIONS = ("channels", "people", "schedules", "escalation_policies")


@dataclass(frozen=True)
class ConfigReload:
    """What a reload applied: the monitors' changes and the alerting sections changed."""

    monitors: ReloadSummary
    alerting: AlertingReload
    next_start: tuple[str, ...] = NEXT_START_SECTIONS


def build_registry() -> CollectorRegistry:
    """Return a fresh registry with process, platform and build-info metrics."""
    registry = CollectorRegistry(auto_describe=True)
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    info = Gauge(
        "tradewarden_build_info",
        "Build information of the running warden (always 1).",
        ["version", "python"],
        registry=registry,
    )
    info.labels(version=__version__, python=platform.python_version()).set(1)
    return registry


@dataclass
class Runtime:
    """The service's components; ``start()`` before use, ``close()`` at the end."""

    settings: Settings
    config: ServiceConfig
    config_path: Path | None = None
    clock: Clock = field(default_factory=SystemClock)
    registry: CollectorRegistry = field(default_factory=build_registry)
    database: Database = field(init=False)
    redis: ManagedRedis | None = field(init=False, default=None)
    auth: AuthService = field(init=False)
    started_at: float = field(init=False, default=0.0)
    first_admin: FirstAdmin | None = field(init=False, default=None)
    hasher: PasswordHasher = field(default_factory=PasswordHasher)
    readiness: Readiness = field(init=False)
    http_metrics: HttpMetrics = field(init=False)
    probe_metrics: ProbeMetrics = field(init=False)
    scheduler: Scheduler | None = field(init=False, default=None)
    monitors: MonitorCatalog | None = field(init=False, default=None)
    heartbeats: HeartbeatBoard | None = field(init=False, default=None)
    control: Control | None = field(init=False, default=None)
    _http: httpx.AsyncClient | None = field(init=False, default=None)
    _web: aiohttp.ClientSession | None = field(init=False, default=None)
    _flips: StoreFlipRecorder | None = field(init=False, default=None)
    # The embedded series store, its scrapes and its snapshot (series/).
    series: SeriesStore = field(init=False)
    scrapes: ScrapeManager = field(init=False)
    _probe_series: StoreResultSink = field(init=False)
    # The trading state, shared breakers and heartbeat pings, straight in (series/_events).
    control_series: ControlSeries = field(init=False)
    _series_keeper: SeriesKeeper | None = field(init=False, default=None)
    # Alerting and recording rules over the series store (rules/).
    rules: RuleManager = field(init=False)
    _rules_unsubscribe: Callable[[], None] | None = field(init=False, default=None)
    # Notification delivery (notify/): the outbox, its channels and workers.
    notifier: Notifier | None = field(init=False, default=None)
    # Alerting (alerting/): routing, grouping, silences; it enqueues through the notifier.
    alerting: Alerting | None = field(init=False, default=None)
    # Escalations and acknowledgements (escalation/): steps fired through the notifier.
    escalator: Escalator | None = field(init=False, default=None)
    # Incidents (incidents/): opened by alert flushes, acknowledged with their escalation.
    incidents: IncidentService | None = field(init=False, default=None)
    # Runbooks (runbooks/): loaded at start (a bad file stops it), and their steps' runner.
    runbooks: RunbookCatalog = field(init=False, default_factory=RunbookCatalog)
    runbook_runner: RunbookRunner | None = field(init=False, default=None)
    # The trailing 7-day KPIs as metrics, recomputed in the background (kpis/).
    kpis: KpiMetrics = field(init=False)

    def __post_init__(self) -> None:
        self.database = Database(self.settings.effective_database_url)
        self.readiness = Readiness(self, max_age_s=self.config.server.status_cache_s)
        self.http_metrics = HttpMetrics(self.registry)
        self.probe_metrics = ProbeMetrics(self.registry)
        self._build_series()
        self.rules = build_rule_manager(self.series, self.clock, self.config.rules)
        RuleCollector(self.registry, self.rules)
        targets, monitors = self.config.kpis.targets, self._monitor_names
        service = KpiService(self.database, self.clock, targets, monitors)
        self.kpis = KpiMetrics(service, self.registry, self.config.kpis.refresh_interval_s)

    def _monitor_names(self) -> list[str]:
        """Return the monitors running (the config file's where none run)."""
        if self.scheduler is not None:
            return [s.spec.name for s in self.scheduler.all()]
        return [m.name for m in self.config.monitors]

    def _build_series(self) -> None:
        metrics, server = self.config.metrics, self.config.server
        self.series = SeriesStore(
            retention_ms=int(metrics.retention_s * 1000), max_bytes=metrics.max_bytes
        )
        self._probe_series = StoreResultSink(self.series, self.clock)
        self.control_series = ControlSeries(
            self.series,
            self.clock,
            registry=self.registry,
            interval_s=metrics.self_scrape_interval_s,
        )
        self.scrapes = ScrapeManager(
            self.series,
            clock=self.clock,
            registry=self.registry if metrics.self_scrape else None,
            self_instance=f"{server.host}:{server.port}",
            self_interval_s=metrics.self_scrape_interval_s,
            # Probe results and the control series are written straight in: not a second
            # time from the registry.
            skip_self=lambda: (
                self._probe_series.metric_names() | self.control_series.metric_names()
            ),
        )
        SeriesCollector(self.registry, self.series, self.scrapes)

    async def start(
        self,
        *,
        migrate: bool = True,
        announce: Callable[[FirstAdmin], None] | None = None,
        bootstrap_admin: bool = True,
        connect_redis: bool = True,
        run_probes: bool = False,
    ) -> None:
        """Migrate, load the signing key, create the first admin, connect to Redis, and
        (for the service) start the monitors."""
        self.started_at = time.time()
        base = self.config_path.parent if self.config_path is not None else Path.cwd()
        self.runbooks = load_runbooks(self.config.runbooks, base)  # ConfigError: file, step
        if migrate:
            await upgrade(self.database)
        signing_key = await self._signing_key()
        limits = self.config.auth.login_rate_limit
        self.auth = AuthService(
            self.database,
            issuer=AccessTokenIssuer(signing_key, ttl_s=self.config.auth.access_token_ttl_s),
            hasher=self.hasher,
            limiter=LoginRateLimiter(
                per_account=limits.per_account,
                per_address=limits.per_address,
                window_s=limits.window_s,
            ),
            clock=self.clock,
            refresh_ttl_s=self.config.auth.refresh_token_ttl_s,
        )
        # The kill switch and breakers' services: built here, connected on first use.
        self.control = open_control(self.settings, self.config.control, self.clock)
        # The outbox always (history and retries over the API); its workers only in the
        # service, where a channel whose secret is missing or invalid stops the start.
        self.notifier = Notifier(
            self.database,
            self.clock,
            self.config.channels,
            registry=self.registry,
            check_secrets=run_probes,
        )
        self.escalator = self._build_escalator(self.notifier, signing_key)
        self.incidents = IncidentService(
            self.database, self.clock, self.config.incidents, escalation=self.escalator
        )
        incident_observer = IncidentObserver(self.incidents)
        self.escalator.observers.append(incident_observer)
        self.alerting = Alerting(
            self.database,
            self.clock,
            self.config,
            enqueue=self.notifier.enqueue,
            per_alert_channels=[c.name for c in self.config.channels if c.type == "pagerduty"],
            escalation=self.escalator,  # a group that fires pages its severity's on-call
            registry=self.registry,
            observers=[incident_observer],  # opens incidents in the flush's transaction
        )
        await self.alerting.start(run=run_probes)  # resumes the stored groups' deadlines
        self.rules.sink = FanOutAlertSink([self.rules.sink, self.alerting.sink])
        if bootstrap_admin:
            self.first_admin = await self._ensure_first_admin()
            if self.first_admin is not None and announce is not None:
                announce(self.first_admin)
        if connect_redis and self.settings.redis_url is not None:
            from tradewarden.redisconn import ManagedRedis

            self.redis = ManagedRedis(
                self.settings.redis_url.get_secret_value(),
                clock=self.clock,
                connect_timeout_s=self.config.redis.connect_timeout_s,
                health_check_interval_s=self.config.redis.health_check_interval_s,
            )
            await self.redis.start()
        if run_probes:
            # The service (not the CLI's admin commands) also follows the trading state.
            await self.control.watch(self.registry)
            self.notifier.start()  # before anything that alerts
            self.escalator.start()  # resumes the stored deadlines
            await self._start_series()
            await self._start_probes()
            scheduler = self.scheduler
            await self.control_series.start(
                self.control,
                self.heartbeats,
                lambda: (
                    [s.spec.name for s in scheduler.all() if s.spec.kind == "heartbeat"]
                    if scheduler is not None
                    else []
                ),
            )
            await self._start_rules()
            self.kpis.start()
        self.runbook_runner = RunbookRunner(
            self.config.runbooks,
            clock=self.clock,
            http=self._http,
            engine=Engine(self.series),
            scheduler=self.scheduler,
            monitors=self._monitor_specs,
            targets=self._scrape_targets,
        )
        if run_probes:  # the service runs an incident's runbook as the incident opens
            self.incidents.diagnoses.diagnosis = RunbookDiagnosis(
                self.runbooks,
                self.runbook_runner,
                allowed=self.config.runbooks.allow_automatic,
                presser=ActionPresser.for_runtime(self),
            )

    def _scrape_targets(self) -> list[str]:
        """Return the ``host:port`` of every scrape target (an alert's ``instance``)."""
        return [
            target
            for job in self.config.scrape_configs
            for group in job.static_configs
            for target in group.targets
        ]

    def _monitor_specs(self) -> list[MonitorSpec]:
        """Return the monitors running (the config file's where none run)."""
        if self.scheduler is not None:
            return [s.spec for s in self.scheduler.all()]
        return list(self.config.monitors)

    async def _start_series(self) -> None:
        """Load the snapshot (before any new sample), then keep it and start scraping."""
        metrics = self.config.metrics
        path = metrics.snapshot_path or self.settings.data_dir / "series.snapshot"
        self._series_keeper = SeriesKeeper(
            self.series,
            path if metrics.snapshot_enabled else None,
            snapshot_interval_s=metrics.snapshot_interval_s,
            clock=self.clock,
        )
        await self._series_keeper.load()
        self._series_keeper.start()
        await self.scrapes.start(self.config.scrape_configs)

    async def _start_probes(self) -> None:
        probes = self.config.probes
        # One client for every HTTP monitor: pooled connections, no cookies carried over.
        self._http = httpx.AsyncClient(
            follow_redirects=False,
            limits=httpx.Limits(max_connections=probes.max_concurrency),
            headers={"User-Agent": f"tradewarden/{__version__}"},
        )
        # HTTP monitors use aiohttp: a thirtieth of httpx's CPU per check (probes/_web.py).
        self._web = new_web_session(probes.max_concurrency)
        self.heartbeats = HeartbeatBoard(StoreHeartbeats(self.database), self.clock)
        self._flips = flips = StoreFlipRecorder(self.database)
        await self.heartbeats.load()
        self.scheduler = Scheduler(
            clock=self.clock,
            flips=flips,
            sink=FanOutSink([self.probe_metrics, self._probe_series]),
            http=self._http,
            web=self._web,
            max_concurrency=probes.max_concurrency,
            history_size=probes.history_size,
            heartbeats=self.heartbeats,
        )
        # The file's monitors and those created over the API (stored).
        self.monitors = MonitorCatalog(self.database, self.scheduler, self.clock)
        await self.monitors.start(self.config.monitors)
        if probes.sync_interval_s > 0:
            self.monitors.watch(probes.sync_interval_s)

    async def _start_rules(self) -> None:
        """Load the rules (a bad file stops the start), then evaluate as samples arrive.

        The monitors' default rules follow the monitors that run, API-created ones too.
        """
        scheduler = self.scheduler
        self.rules.generated = MonitorRules(
            self.config.rules,
            lambda: [s.spec for s in scheduler.all()] if scheduler else self.config.monitors,
        )
        self.rules.apply(self._rule_groups(self.config))
        self._rules_unsubscribe = self.series.subscribe(self.rules.notify, series=True)
        await self.rules.start()
        if scheduler is not None:  # a monitor created over the API has its rules at once
            scheduler.on_change(self.rules.generated_changed)

    def _rule_groups(self, config: ServiceConfig) -> list[GroupSpec]:
        base = self.config_path.parent if self.config_path is not None else Path.cwd()
        return load_rule_groups(config.rules, base)  # the generated ones come on top

    async def reload_rules(self) -> list[GroupSpec]:
        """Read the config file's rule files again and apply them; raise RuleLoadError
        (file, group, rule) and keep the rules in force when any is invalid. Return the
        groups in force."""
        self.rules.apply(self._rule_groups(load_config_file(self.config_path)))
        return [group.spec for group in self.rules.groups()]

    async def reload_monitors(self) -> ReloadSummary:
        """Reload the config file (see ``reload_config``); return the monitors' changes."""
        return (await self.reload_config()).monitors

    async def reload_config(self) -> ConfigReload:
        """Read the config file again and apply its monitors, scrapes and alerting
        sections (route, receivers, inhibit_rules, time_intervals, severities,
        maintenance_windows); raise ConfigError when invalid.

        The monitors created over the API are read from the store again too (so another
        instance's changes arrive here). An invalid file changes nothing: the monitors
        and the routing in force stay as they were. Other sections (server, auth, redis,
        metrics and ``NEXT_START_SECTIONS``) take effect at the next start, so the new
        alerting sections may only name channels already running.
        """
        if self.monitors is None or self.alerting is None:
            raise ConfigError("monitors do not run in this process")
        config = load_config_file(self.config_path)
        where = str(self.config_path) if self.config_path is not None else "<config>"
        running = list(self.notifier.channels) if self.notifier is not None else []
        if problems := check_alerting(
            route=config.route,
            receivers=config.receivers,
            time_intervals=config.time_intervals,
            severities=config.severities,
            channels=running,
        ):
            raise ConfigError(
                f"{where}: reload refused, channels are read at the next start: "
                + "; ".join(problems)
            )
        try:
            prepared = self.alerting.prepare(config)
        except ValueError as exc:
            raise ConfigError(f"{where}: {exc}") from exc
        summary = await self.monitors.reload(config.monitors)
        await self.scrapes.apply(config.scrape_configs)  # the metrics: section: next start
        alerting = self.alerting.apply(prepared)
        self.config = config
        return ConfigReload(monitors=summary, alerting=alerting)

    async def close(self) -> None:  # noqa: PLR0912 - one release per component, in order
        """Release connections."""
        await self.kpis.stop()
        if self._rules_unsubscribe is not None:
            self._rules_unsubscribe()
        await self.rules.stop()
        await self.control_series.stop()
        await self.scrapes.stop()
        if self.monitors is not None:
            await self.monitors.stop()
        if self.scheduler is not None:
            await self.scheduler.stop()
        if self._flips is not None:
            await self._flips.aclose()  # the flips handed over before the stop
        if self._series_keeper is not None:
            await self._series_keeper.stop()  # the final snapshot, after the last result
        if self.incidents is not None:
            await self.incidents.close()  # diagnoses still running are cut
        if self.escalator is not None:
            await self.escalator.stop()
        if self.alerting is not None:
            await self.alerting.stop()  # before the notifier it enqueues through
        if self.notifier is not None:
            await self.notifier.aclose()  # after everything that enqueues; attempts finish
        if self._http is not None:
            await self._http.aclose()
        if self._web is not None:
            await self._web.close()
        if self.control is not None:
            self.control.close()
        if self.redis is not None:
            await self.redis.close()
        await self.database.dispose()

    def _build_escalator(self, notifier: Notifier, signing_key: str) -> Escalator:
        config = self.config
        # Ack links point where operators reach the warden (the rules' external URL).
        base_url = config.rules.external_url or f"http://{config.server.host}:{config.server.port}"
        return Escalator(
            self.database,
            self.clock,
            notifier.enqueue,
            people=config.people,
            schedules=config.schedules,
            policies=config.escalation_policies,
            channels=[channel.name for channel in config.channels],
            links=AckLinks(signing_key, base_url=base_url, ttl_s=ACK_LINK_TTL_S),
            registry=self.registry,
        )

    async def _signing_key(self) -> str:
        if self.settings.jwt_secret is not None:
            return self.settings.jwt_secret.get_secret_value()
        async with self.database.session() as session:
            return await MetaRepository(session).get_or_create(
                _SIGNING_KEY, generate_signing_key(), now=utc_datetime(self.clock.now())
            )

    async def _ensure_first_admin(self) -> FirstAdmin | None:
        if await self.auth.count_users() > 0:
            return None
        configured = self.settings.admin_password
        password = configured.get_secret_value() if configured else generate_password()
        try:
            await self.auth.create_user(
                FIRST_ADMIN_NAME,
                password,
                Role.ADMIN,
                actor=SYSTEM,
                must_change_password=configured is None,
            )
        except ConflictError:
            return None  # another instance created it first
        return FirstAdmin(FIRST_ADMIN_NAME, None if configured else password)


def print_first_admin(first_admin: FirstAdmin) -> None:
    """Show the first admin's one-time password on the terminal, never in the logs."""
    if first_admin.password is None:
        sys.stderr.write(
            f"\ntradewarden: created the first admin {first_admin.username!r} "
            "with the password from TRADEWARDEN_ADMIN_PASSWORD\n\n"
        )
        return
    sys.stderr.write(
        "\n"
        "==================================================================\n"
        f" tradewarden: first start: created admin user {first_admin.username!r}\n"
        f" one-time password: {first_admin.password}\n"
        " It is shown only now. Log in and change it:\n"
        "   tradewarden user set-password admin\n"
        "==================================================================\n\n"
    )
    sys.stderr.flush()
