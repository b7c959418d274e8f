"""The scraper: every target of ``scrape_configs`` on its interval, plus the warden itself.

Per scrape, as Prometheus records them: the target's samples with ``job``/``instance`` and
the static labels (a clash with the exposition renames its label ``exported_<name>``
unless ``honor_labels``), then ``up``, ``scrape_duration_seconds``,
``scrape_samples_scraped``, ``scrape_samples_post_metric_relabeling`` and
``scrape_series_added``. Samples are stamped with the scrape's start unless the exposition
has its own time (``honor_timestamps``). A series that vanishes from a target gets a stale
marker; a failed scrape (unreachable, timeout, HTTP error, garbage, too big, too many
samples, duplicates) gives all of the target's series one, sets ``up`` 0 and keeps the
error for :meth:`ScrapeManager.targets`. One target's failure touches nothing else.

The self-scrape reads ``runtime.registry`` in process (no HTTP) as job ``tradewarden``;
families written straight into the store (the probe results) are skipped, so they are not
stored twice.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import urlencode

import aiohttp
from prometheus_client import CollectorRegistry

from tradewarden._version import __version__
from tradewarden.clock import Clock, SystemClock
from tradewarden.probes._secrets import read_secret
from tradewarden.series._config import ScrapeConfig
from tradewarden.series._exposition import ExpositionError, ScrapeCache, parse_exposition
from tradewarden.series._labels import METRIC_NAME, Labels
from tradewarden.series._ports import STALE_NAN
from tradewarden.series._store import SeriesStore
from tradewarden.telemetry._redact import redact_text

__all__ = ["SELF_JOB", "ScrapeManager", "TargetHealth"]

logger = logging.getLogger("tradewarden.series")

SELF_JOB = "tradewarden"
_ACCEPT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
    "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)
_READ_CHUNK = 64 * 1024


class ScrapeError(Exception):
    """One scrape failed; the message is what the target's health shows."""


@dataclass(frozen=True, slots=True)
class TargetHealth:
    """A target as the API shows it."""

    job: str
    url: str
    labels: dict[str, str]
    health: str  # "up", "down" or "unknown" (not scraped yet)
    last_error: str
    last_scrape: float | None  # Unix time of the last scrape's start
    last_scrape_duration_s: float
    scrape_interval_s: float
    scrape_timeout_s: float


@dataclass
class _Outcome:
    samples: list[tuple[Labels, float, int | None]]
    scraped: int


@dataclass
class _Target:
    job: str
    url: str
    labels: Labels  # job, instance and the static labels
    interval_s: float
    timeout_s: float
    config: ScrapeConfig | None  # None: the self-scrape
    cache: ScrapeCache = field(default_factory=ScrapeCache)
    previous: set[Labels] = field(default_factory=set)
    health: str = "unknown"
    last_error: str = ""
    last_scrape: float | None = None
    last_duration_s: float = 0.0
    task: asyncio.Task[None] | None = None
    # One scrape of a target at a time (the loop and scrape_now may meet).
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def key(self) -> tuple[str, str]:
        return (self.job, self.url)

    def relabel(self, scraped: Labels) -> Labels:
        """Prometheus's merge of target labels into a scraped series."""
        honor = self.config is not None and self.config.honor_labels
        items = dict(scraped)
        for name, value in self.labels:
            existing = items.get(name)
            if existing is not None:
                if honor:
                    continue
                exported = f"exported_{name}"
                while exported in items:
                    exported = f"exported_{exported}"
                items[exported] = existing
            items[name] = value
        return Labels.from_pairs(items.items())

    def health_view(self) -> TargetHealth:
        return TargetHealth(
            job=self.job,
            url=redact_text(self.url),
            labels=self.labels.to_dict(),
            health=self.health,
            last_error=self.last_error,
            last_scrape=self.last_scrape,
            last_scrape_duration_s=self.last_duration_s,
            scrape_interval_s=self.interval_s,
            scrape_timeout_s=self.timeout_s,
        )


class ScrapeManager:
    """Runs one loop per target; ``apply()`` swaps the configured set in place."""

    def __init__(
        self,
        store: SeriesStore,
        *,
        clock: Clock | None = None,
        session: aiohttp.ClientSession | None = None,
        registry: CollectorRegistry | None = None,
        self_instance: str = "localhost:8080",
        self_interval_s: float = 5.0,
        skip_self: Callable[[], Iterable[str]] | None = None,
    ) -> None:
        self._store = store
        self._clock = clock or SystemClock()
        self._session = session
        self._own_session = session is None
        self._registry = registry
        self._skip_self = skip_self
        self._targets: dict[tuple[str, str], _Target] = {}
        self._running = False
        if registry is not None:
            target = _Target(
                job=SELF_JOB,
                url=f"inprocess://{self_instance}/metrics",
                labels=Labels.of(job=SELF_JOB, instance=self_instance),
                interval_s=self_interval_s,
                timeout_s=min(10.0, self_interval_s),
                config=None,
            )
            self._targets[target.key] = target

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self, configs: Iterable[ScrapeConfig] = ()) -> None:
        """Start the loops of the self-scrape and of ``configs``."""
        self._running = True
        await self.apply(configs)
        for target in self._targets.values():
            self._launch(target)

    async def apply(self, configs: Iterable[ScrapeConfig]) -> None:
        """Make the running targets those of ``configs``; unchanged targets keep going."""
        wanted = {t.key: t for t in _targets_of(configs)}
        for key, target in list(self._targets.items()):
            if target.config is None:
                continue
            new = wanted.get(key)
            if new is not None and new.config == target.config:
                continue
            await self._retire(target)
        for key, target in wanted.items():
            if key not in self._targets:
                self._targets[key] = target
                if self._running:
                    self._launch(target)

    async def stop(self) -> None:
        """Stop every loop (no stale markers: a restart carries on with the same series)."""
        self._running = False
        tasks = [t.task for t in self._targets.values() if t.task is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for target in self._targets.values():
            target.task = None
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    def targets(self) -> list[TargetHealth]:
        """Every target's health, by job and URL."""
        return [t.health_view() for _, t in sorted(self._targets.items())]

    async def scrape_now(self, job: str) -> None:
        """Scrape every target of ``job`` once, now (tests and the API's "scrape now")."""
        for target in list(self._targets.values()):
            if target.job == job:
                await self._scrape(target)

    def _launch(self, target: _Target) -> None:
        if target.task is None:
            target.task = asyncio.create_task(
                self._loop(target), name=f"scrape {target.job} {target.url}"
            )

    async def _retire(self, target: _Target) -> None:
        del self._targets[target.key]
        if target.task is not None:
            target.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await target.task
        # A removed target's series end now, as in Prometheus.
        now_ms = self._now_ms()
        gone = set(target.previous)
        gone |= {_report(target, name) for name in _REPORT_NAMES}
        self._store.append_many((labels, now_ms, STALE_NAN) for labels in gone)

    def _now_ms(self) -> int:
        return int(self._clock.now() * 1000)

    # -- the loop ----------------------------------------------------------------------

    async def _loop(self, target: _Target) -> None:
        loop = asyncio.get_running_loop()
        # Spread first scrapes over one interval, stably per target (as Prometheus does).
        digest = hashlib.blake2b(f"{target.job}|{target.url}".encode(), digest_size=8)
        offset = int.from_bytes(digest.digest()) / 2**64 * target.interval_s
        due = loop.time() + offset
        while True:
            await asyncio.sleep(max(0.0, due - loop.time()))
            try:
                await self._scrape(target)
            except Exception:  # a bug in one scrape must not end the loop
                logger.exception("scrape of %s failed unexpectedly", target.url)
            due += target.interval_s
            now = loop.time()
            if due < now:  # missed runs are skipped on the same phase
                due += (now - due) // target.interval_s * target.interval_s + target.interval_s

    async def _scrape(self, target: _Target) -> None:
        async with target.lock:
            await self._scrape_locked(target)

    async def _scrape_locked(self, target: _Target) -> None:
        start_s = self._clock.now()
        start_ms = int(start_s * 1000)
        began = time.perf_counter()
        try:
            outcome = await self._collect(target)
        except ScrapeError as exc:
            outcome, error = None, str(exc)
        else:
            error = ""
        duration_s = time.perf_counter() - began
        target.last_scrape = start_s
        target.last_duration_s = duration_s
        target.last_error = error
        target.health = "down" if outcome is None else "up"
        with self._store.batch():
            if outcome is None:
                self._write_failure(target, start_ms, duration_s)
            else:
                self._write_success(target, outcome, start_ms, duration_s)

    def _write_success(
        self, target: _Target, outcome: _Outcome, start_ms: int, duration_s: float
    ) -> None:
        honor_ts = target.config is None or target.config.honor_timestamps
        current: set[Labels] = set()
        append = self._store.append
        for labels, value, stamp in outcome.samples:
            if stamp is not None and honor_ts:
                append(labels, stamp, value)
            else:
                append(labels, start_ms, value)
                current.add(labels)
        added = len(current - target.previous)
        for labels in target.previous - current:
            append(labels, start_ms, STALE_NAN)
        target.previous = current
        self._write_report(target, start_ms, 1.0, duration_s, outcome.scraped, added)

    def _write_failure(self, target: _Target, start_ms: int, duration_s: float) -> None:
        for labels in target.previous:
            self._store.append(labels, start_ms, STALE_NAN)
        target.previous = set()
        self._write_report(target, start_ms, 0.0, duration_s, 0, 0)

    def _write_report(
        self,
        target: _Target,
        start_ms: int,
        up: float,
        duration_s: float,
        *counts: int,
    ) -> None:
        scraped, added = counts
        values = (up, duration_s, float(scraped), float(scraped), float(added))
        for name, value in zip(_REPORT_NAMES, values, strict=True):
            self._store.append(_report(target, name), start_ms, value)

    # -- collecting --------------------------------------------------------------------

    async def _collect(self, target: _Target) -> _Outcome:
        if target.config is None:
            samples = self._collect_self(target)
        else:
            text, openmetrics = await self._fetch(target, target.config)
            try:
                parsed = parse_exposition(
                    text, openmetrics=openmetrics, cache=target.cache, relabel=target.relabel
                )
            except ExpositionError as exc:
                raise ScrapeError(f"parse error: {exc}") from None
            samples = parsed.samples
            limit = target.config.sample_limit
            if limit and len(samples) > limit:
                raise ScrapeError(f"sample limit exceeded: {len(samples)} > {limit}")
        return _Outcome(samples, len(samples))

    def _collect_self(self, target: _Target) -> list[tuple[Labels, float, int | None]]:
        if self._registry is None:
            return []
        skip = set(self._skip_self()) if self._skip_self is not None else set()
        entries = target.cache.entries
        samples: list[tuple[Labels, float, int | None]] = []
        for family in self._registry.collect():
            if family.name in skip:
                continue
            for sample in family.samples:
                if sample.name in skip:
                    continue
                key = f"{sample.name}{sorted(sample.labels.items())}"
                labels = entries.get(key)
                if labels is None:
                    raw = Labels.from_pairs([(METRIC_NAME, sample.name), *sample.labels.items()])
                    labels = entries[key] = target.relabel(raw)
                samples.append((labels, float(sample.value), None))
        target.cache.trim(len(samples))
        return samples

    async def _fetch(self, target: _Target, config: ScrapeConfig) -> tuple[str, bool]:
        if self._session is None:
            self._session = aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar())
        headers = {
            "Accept": _ACCEPT,
            "Accept-Encoding": "gzip",
            "User-Agent": f"tradewarden/{__version__}",
            "X-Prometheus-Scrape-Timeout-Seconds": f"{target.timeout_s:g}",
        }
        auth = _auth_header(config)
        if auth is not None:
            headers["Authorization"] = auth
        limit = config.body_size_limit
        try:
            async with asyncio.timeout(target.timeout_s):
                async with self._session.get(target.url, headers=headers) as response:
                    if response.status != 200:
                        raise ScrapeError(
                            f"server returned HTTP status {response.status} {response.reason}"
                        )
                    body = bytearray()
                    async for chunk in response.content.iter_chunked(_READ_CHUNK):
                        body += chunk
                        if limit and len(body) > limit:
                            raise ScrapeError(f"body size limit exceeded ({limit} bytes)")
                    content_type = response.headers.get("Content-Type", "")
        except TimeoutError:
            raise ScrapeError(f"timeout after {target.timeout_s:g} s") from None
        except aiohttp.ClientError as exc:
            raise ScrapeError(redact_text(f"{type(exc).__name__}: {exc}")) from None
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ScrapeError(f"body is not UTF-8 (byte {exc.start})") from None
        return text, content_type.startswith("application/openmetrics-text")


_REPORT_NAMES = (
    "up",
    "scrape_duration_seconds",
    "scrape_samples_scraped",
    "scrape_samples_post_metric_relabeling",
    "scrape_series_added",
)


def _report(target: _Target, name: str) -> Labels:
    return Labels.from_pairs([(METRIC_NAME, name), *target.labels])


def _no_problem(_value: str) -> str | None:
    return None


def _auth_header(config: ScrapeConfig) -> str | None:
    """The Authorization header, with the secret read now (a rotation needs no restart)."""
    try:
        if config.basic_auth is not None:
            basic = config.basic_auth
            password = read_secret(
                "password", None, basic.password_env, basic.password_file, _no_problem
            )
            token = base64.b64encode(f"{basic.username}:{password}".encode()).decode()
            return f"Basic {token}"
        if config.bearer_token_env is not None or config.bearer_token_file is not None:
            bearer = read_secret(
                "bearer_token", None, config.bearer_token_env, config.bearer_token_file, _no_problem
            )
            return f"Bearer {bearer}"
    except ValueError as exc:
        raise ScrapeError(str(exc)) from None
    return None


def _targets_of(configs: Iterable[ScrapeConfig]) -> list[_Target]:
    targets: list[_Target] = []
    for config in configs:
        query = urlencode([(k, v) for k, vs in config.params.items() for v in vs])
        for group in config.static_configs:
            for address in group.targets:
                labels = {"job": config.job_name, "instance": address, **group.labels}
                url = f"{config.scheme}://{address}{config.metrics_path}"
                targets.append(
                    _Target(
                        job=config.job_name,
                        url=f"{url}?{query}" if query else url,
                        labels=Labels.of(labels),
                        interval_s=config.scrape_interval,
                        timeout_s=config.timeout_s,
                        config=config,
                    )
                )
    return targets
