"""Job queues: is work flowing through BullMQ, RQ or Celery, or is it backing up?

One check reads, per queue, what an operator would look at by hand::

    redis-cli LLEN bull:campaign-executor:wait      # the backlog
    redis-cli ZCARD bull:campaign-executor:failed   # a zset, not a list: LLEN fails here
    redis-cli HGET bull:campaign-executor:meta paused

then the age of the oldest waiting job (a backlog that does not move), and over
``time_range`` the failure ratio and the average processing time. The keys each backend
uses, and what Celery cannot tell, are in ``_queue_backends``.

Unreachable Redis, or a paused queue with ``fail_when_paused``, is DOWN; a threshold crossed
is DEGRADED, naming the queue and the value. ``queue_stats()`` returns the same numbers as
``QueueStats``, for any time range, to whoever wants them without a probe.

The Redis URLs are secrets, handled as in the redis kind: inline, from an environment
variable or from a file, and never in an error, a label or a sample.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Annotated, Literal, Self

import redis.asyncio as aioredis
from pydantic import (
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from tradewarden.probes._model import Probe, ProbeContext, ProbeResult, Sample
from tradewarden.probes._secrets import EnvName, Scrubber, one_source, read_secret
from tradewarden.probes._spec import MonitorSpec
from tradewarden.probes.kinds._queue_backends import (
    TIME_RANGES_S,
    Backend,
    QueueStats,
    TimeRange,
    read_bullmq,
    read_celery,
    read_rq,
)
from tradewarden.probes.kinds._redis_common import describe_redis_error, redis_url_problem

__all__ = ["TIME_RANGES_S", "QueueReadError", "QueueSpec", "QueueStats", "queue_stats"]

_CLIENT_NAME = "tradewarden-probe"
_DEFAULT_PREFIX: dict[Backend, str] = {"bullmq": "bull", "rq": "rq", "celery": ""}

_QueueName = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^\S+$")]


class QueueReadError(Exception):
    """The queues could not be read. The message names the cause and holds no secret."""


class QueueSpec(MonitorSpec):
    """Check job queues kept in Redis: backlog, pauses, failures, processing time."""

    # A URL may carry a password: never echo it back in a validation error.
    model_config = ConfigDict(hide_input_in_errors=True)

    kind: Literal["queue"] = "queue"
    backend: Backend
    url: SecretStr | None = None
    url_env: EnvName | None = None
    url_file: Path | None = None
    # Celery only: the result backend, for completed and failed counts.
    result_url: SecretStr | None = None
    result_url_env: EnvName | None = None
    result_url_file: Path | None = None
    queues: list[_QueueName] = Field(min_length=1, max_length=50)
    # Key prefix: BullMQ's ``prefix`` ("bull"), RQ's RQ_KEY_PREFIX ("rq"), kombu's
    # ``global_keyprefix`` (""). None takes the backend's default.
    prefix: Annotated[str, Field(max_length=100, pattern=r"^[A-Za-z0-9_.:{}-]*$")] | None = None
    # Failure ratio, failed count and processing time are over this window.
    time_range: TimeRange = "24h"
    # Jobs ready to run that no worker took: waiting, prioritized and (legacy) paused.
    max_waiting: int | None = Field(default=None, ge=0)
    # Jobs that failed within time_range (not the failed set, which keeps old failures).
    max_failed: int | None = Field(default=None, ge=0)
    max_failure_ratio: float | None = Field(default=None, ge=0, le=1)
    max_oldest_waiting_s: float | None = Field(default=None, gt=0)
    max_processing_s_avg: float | None = Field(default=None, gt=0)
    fail_when_paused: bool = False

    @field_validator("url", "result_url")
    @classmethod
    def _url_is_a_redis_url(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        if value is not None:
            problem = redis_url_problem(value.get_secret_value())
            if problem:
                raise ValueError(f"{info.field_name} {problem}")
        return value

    @field_validator("queues")
    @classmethod
    def _queues_are_unique(cls, queues: list[str]) -> list[str]:
        repeated = sorted({queue for queue in queues if queues.count(queue) > 1})
        if repeated:
            raise ValueError(f"names a queue more than once: {', '.join(repeated)}")
        return queues

    @model_validator(mode="after")
    def _sources_and_backend_agree(self) -> Self:
        one_source("url", self.url, self.url_env, self.url_file)
        results = [
            name
            for name in ("result_url", "result_url_env", "result_url_file")
            if getattr(self, name)
        ]
        if len(results) > 1:
            raise ValueError(
                f"set at most one of result_url, result_url_env, result_url_file "
                f"(got {', '.join(results)})"
            )
        if self.backend != "celery":
            if results:
                raise ValueError(f"{results[0]} is for backend celery only")
            return self
        # What Celery cannot tell (see _queue_backends): a threshold on it would never fire.
        unknowable = {
            "max_oldest_waiting_s": "Celery messages carry no time they were sent",
            "max_processing_s_avg": "Celery results carry no start time",
            "fail_when_paused": "Celery has no pause on the broker",
        }
        for name, why in unknowable.items():
            if getattr(self, name):
                raise ValueError(f"{name} is not available for backend celery: {why}")
        for name in ("max_failed", "max_failure_ratio"):
            if getattr(self, name) is not None and not results:
                raise ValueError(f"{name} needs result_url (or _env/_file) for backend celery")
        return self

    @property
    def key_prefix(self) -> str:
        """Return the key prefix in use: the configured one or the backend's default."""
        return self.prefix if self.prefix is not None else _DEFAULT_PREFIX[self.backend]

    def resolve_urls(self) -> tuple[str, str | None]:
        """Return the broker URL and the result backend URL, if any; raise ValueError.

        Read on every check, so a rotated secret is picked up without a restart.
        """
        broker = read_secret("url", self.url, self.url_env, self.url_file, redis_url_problem)
        if not (self.result_url or self.result_url_env or self.result_url_file):
            return broker, None
        results = read_secret(
            "result_url",
            self.result_url,
            self.result_url_env,
            self.result_url_file,
            redis_url_problem,
        )
        return broker, results

    def build(self) -> Probe:
        return _QueueProbe(self)


@contextlib.asynccontextmanager
async def _connect(url: str, timeout_s: float) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(
        url,
        single_connection_client=True,
        decode_responses=True,
        socket_connect_timeout=timeout_s,
        socket_timeout=timeout_s,
        # One attempt per check: retrying is the scheduler's business, on its interval.
        retry=Retry(NoBackoff(), 0),
        client_name=_CLIENT_NAME,
        protocol=2,
    )
    try:
        yield client
    finally:
        # Runs on cancellation too: redis-py drops an interrupted socket at once.
        await client.aclose()


async def _read(
    spec: QueueSpec,
    broker_url: str,
    result_url: str | None,
    *,
    now_s: float,
    time_range: TimeRange,
    timeout_s: float,
) -> list[QueueStats]:
    prefix = spec.key_prefix
    async with _connect(broker_url, timeout_s) as broker:
        if spec.backend == "bullmq":
            return await read_bullmq(
                broker, spec.queues, prefix=prefix, now_s=now_s, time_range=time_range
            )
        if spec.backend == "rq":
            return await read_rq(
                broker, spec.queues, prefix=prefix, now_s=now_s, time_range=time_range
            )
        async with contextlib.AsyncExitStack() as stack:
            results = None
            if result_url is not None:
                results = await stack.enter_async_context(_connect(result_url, timeout_s))
            return await read_celery(
                broker,
                spec.queues,
                prefix=prefix,
                now_s=now_s,
                time_range=time_range,
                results=results,
            )


async def queue_stats(
    spec: QueueSpec,
    *,
    now_s: float,
    time_range: TimeRange | None = None,
    timeout_s: float | None = None,
) -> tuple[QueueStats, ...]:
    """Return the stats of every queue of ``spec`` at ``now_s``, in the order configured.

    Finished jobs are counted over ``time_range`` (default: the spec's). Raise
    ``QueueReadError`` with a message safe to show when the queues cannot be read.
    """
    timeout_s = spec.timeout_s if timeout_s is None else timeout_s
    try:
        broker_url, result_url = await asyncio.to_thread(spec.resolve_urls)
    except ValueError as exc:
        raise QueueReadError(str(exc)) from None
    scrub = _scrubber(broker_url, result_url)
    try:
        async with asyncio.timeout(timeout_s):
            stats = await _read(
                spec,
                broker_url,
                result_url,
                now_s=now_s,
                time_range=time_range or spec.time_range,
                timeout_s=timeout_s,
            )
    except Exception as exc:  # noqa: BLE001 - every failure is reported with its reason
        target = scrub(broker_url)
        raise QueueReadError(
            f"{spec.backend} on {target}: {scrub(describe_redis_error(exc, timeout_s))}"
        ) from None
    return tuple(stats)


def _scrubber(*urls: str | None) -> Callable[[str], str]:
    scrubbers = [Scrubber(url) for url in urls if url]

    def scrub(text: str) -> str:
        for scrubber in scrubbers:
            text = scrubber(text)
        return text

    return scrub


# --- judgement: pure, from the spec and the stats ------------------------------------------


def _samples(stats: Sequence[QueueStats]) -> tuple[Sample, ...]:
    samples: list[Sample] = []
    for one in stats:
        queue = {"queue": one.queue}
        samples.extend(
            Sample("queue_jobs", count, {**queue, "state": state}, _JOBS_HELP)
            for state, count in one.counts.items()
        )
        if one.completed_in_range is not None and one.failed_in_range is not None:
            for state, count in (
                ("completed", one.completed_in_range),
                ("failed", one.failed_in_range),
            ):
                samples.append(
                    Sample("queue_finished_jobs", count, {**queue, "state": state}, _RANGE_HELP)
                )
        optional = (
            ("queue_paused", None if one.paused is None else float(one.paused), _PAUSED_HELP),
            ("queue_oldest_waiting_seconds", one.oldest_waiting_s, _OLDEST_HELP),
            ("queue_failure_ratio", one.failure_ratio, _RATIO_HELP),
            ("queue_processing_seconds_avg", one.processing_s_avg, _PROCESSING_HELP),
        )
        samples.extend(
            Sample(name, value, queue, help_text)
            for name, value, help_text in optional
            if value is not None
        )
    return tuple(samples)


_JOBS_HELP = "Jobs in the queue now, by state."
_RANGE_HELP = "Jobs that finished within the monitor's time_range, by outcome."
_PAUSED_HELP = "Whether the queue is paused (1) or not (0)."
_OLDEST_HELP = "How long the longest-waiting job has waited; 0 when none waits."
_RATIO_HELP = "failed / (completed + failed) within the monitor's time_range."
_PROCESSING_HELP = "Mean processing time of recent completed jobs within time_range."


def _warnings(spec: QueueSpec, one: QueueStats) -> list[str]:
    """Return the thresholds ``one`` crosses, each naming the value and the limit."""
    found = []
    if one.exists is False:
        found.append("no such queue: no job was ever added under this name")
    if spec.max_waiting is not None and one.waiting > spec.max_waiting:
        found.append(f"{one.waiting} jobs waiting (above {spec.max_waiting})")
    oldest = one.oldest_waiting_s
    if spec.max_oldest_waiting_s is not None and oldest and oldest > spec.max_oldest_waiting_s:
        found.append(
            f"oldest waiting job has waited {oldest:.0f} s (above {spec.max_oldest_waiting_s:g} s)"
        )
    failed = one.failed_in_range
    if spec.max_failed is not None and failed is not None and failed > spec.max_failed:
        found.append(f"{failed} jobs failed in {one.time_range} (above {spec.max_failed})")
    ratio = one.failure_ratio
    if spec.max_failure_ratio is not None and ratio is not None and ratio > spec.max_failure_ratio:
        found.append(
            f"{ratio:.1%} of jobs failed in {one.time_range} (above {spec.max_failure_ratio:.1%})"
        )
    average = one.processing_s_avg
    if (
        spec.max_processing_s_avg is not None
        and average is not None
        and average > spec.max_processing_s_avg
    ):
        found.append(
            f"jobs took {average:.3g} s on average (above {spec.max_processing_s_avg:g} s)"
        )
    return found


def _judge(spec: QueueSpec, stats: Sequence[QueueStats], duration_s: float) -> ProbeResult:
    """Return the outcome of one check of ``spec`` that read ``stats``."""
    samples = _samples(stats)
    paused = [one.queue for one in stats if one.paused]
    if spec.fail_when_paused and paused:
        names = ", ".join(paused)
        return ProbeResult.failure(
            f"queue {names} {'is' if len(paused) == 1 else 'are'} paused (fail_when_paused)",
            duration_s,
            *samples,
        )
    warnings = [
        f"queue {one.queue}: {warning}" for one in stats for warning in _warnings(spec, one)
    ]
    return ProbeResult(
        success=True,
        duration_s=duration_s,
        error="; ".join(warnings) or None,
        degraded=bool(warnings),
        samples=samples,
    )


class _QueueProbe:
    def __init__(self, spec: QueueSpec) -> None:
        self._spec = spec

    async def run(self, ctx: ProbeContext) -> ProbeResult:
        started = time.perf_counter()
        try:
            stats = await queue_stats(self._spec, now_s=ctx.clock.now(), timeout_s=ctx.timeout_s)
        except QueueReadError as exc:
            return ProbeResult.failure(str(exc), time.perf_counter() - started)
        return _judge(self._spec, stats, time.perf_counter() - started)
