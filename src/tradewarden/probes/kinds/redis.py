"""Redis: does it answer, in the expected role, with memory, clients and persistence in order?

One check is what an operator types by hand, on one fresh connection::

    redis-cli -u $REDIS_URL ping
    redis-cli -u $REDIS_URL INFO   # memory, clients, replication, persistence

A replica where a master is expected is DOWN: every write the application sends fails with
``READONLY You can't write against a read only replica``. The connection is closed whatever
happens, cancellation by the scheduler's timeout included.

The URL is a secret. It comes inline (``url``), from an environment variable (``url_env``)
or from a file (``url_file``), and its password never appears in an error, a label or a
sample.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, Self

import redis.asyncio as aioredis
from pydantic import ConfigDict, Field, SecretStr, field_validator, model_validator
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from tradewarden.probes._model import Probe, ProbeContext, ProbeResult, Sample
from tradewarden.probes._secrets import EnvName, Scrubber, one_source, read_secret
from tradewarden.probes._spec import MonitorSpec
from tradewarden.probes.kinds._redis_common import describe_redis_error, redis_url_problem

__all__ = ["RedisSpec"]

_CLIENT_NAME = "tradewarden-probe"


class RedisSpec(MonitorSpec):
    """Check a Redis server: reachable, in the expected role, not near its limits."""

    # A URL may carry a password: never echo it back in a validation error.
    model_config = ConfigDict(hide_input_in_errors=True)

    kind: Literal["redis"] = "redis"
    url: SecretStr | None = None
    url_env: EnvName | None = None
    url_file: Path | None = None
    expect_role: Literal["master", "replica", "any"] = "any"
    max_memory_used_pct: float = Field(default=90.0, gt=0, le=100)
    max_clients: int | None = Field(default=None, ge=1)
    require_persistence_ok: bool = False

    @field_validator("url")
    @classmethod
    def _url_is_a_redis_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            problem = redis_url_problem(value.get_secret_value())
            if problem:
                raise ValueError(f"url {problem}")
        return value

    @model_validator(mode="after")
    def _exactly_one_url_source(self) -> Self:
        one_source("url", self.url, self.url_env, self.url_file)
        return self

    def resolve_url(self) -> str:
        """Return the URL from where it is configured; raise ValueError saying what is wrong.

        Read on every check, so a rotated secret is picked up without a restart.
        """
        return read_secret("url", self.url, self.url_env, self.url_file, redis_url_problem)

    def build(self) -> Probe:
        return _RedisProbe(self)


async def _read(url: str, timeout_s: float) -> tuple[float, dict[str, Any]]:
    """Return the PING round trip and the INFO of the server at ``url``."""
    client = aioredis.Redis.from_url(
        url,
        single_connection_client=True,
        decode_responses=True,
        socket_connect_timeout=timeout_s,
        socket_timeout=timeout_s,
        # One attempt per check: retrying is the scheduler's business, on its interval.
        retry=Retry(NoBackoff(), 0),
        client_name=_CLIENT_NAME,
        # RESP2 works against every server version; a URL may still ask for ?protocol=3.
        protocol=2,
    )
    try:
        started = time.perf_counter()
        await client.ping()
        ping_s = time.perf_counter() - started
        info = await client.info()
    finally:
        # Runs on cancellation too; redis-py drops the socket itself when a command is
        # interrupted, so this returns at once.
        await client.aclose()
    return ping_s, info


def _int(info: Mapping[str, Any], key: str) -> int:
    try:
        return int(info.get(key, 0))
    except (TypeError, ValueError):
        return 0


def _sample(name: str, value: float, help_text: str) -> Sample:
    return Sample(name, value, help=help_text)


_UP_HELP = "Whether the server answered PING (1) or not (0)."
_DOWN = _sample("redis_up", 0.0, _UP_HELP)


class _RedisProbe:
    def __init__(self, spec: RedisSpec) -> None:
        self._spec = spec

    async def run(self, ctx: ProbeContext) -> ProbeResult:
        started = time.perf_counter()
        try:
            url = await asyncio.to_thread(self._spec.resolve_url)
        except ValueError as exc:
            return ProbeResult.failure(str(exc), time.perf_counter() - started, _DOWN)
        scrub = Scrubber(url)
        try:
            async with asyncio.timeout(ctx.timeout_s):
                ping_s, info = await _read(url, ctx.timeout_s)
        except Exception as exc:  # noqa: BLE001 - every failure is a DOWN result with its reason
            return ProbeResult.failure(
                f"redis {scrub.target}: {scrub(describe_redis_error(exc, ctx.timeout_s))}",
                time.perf_counter() - started,
                _DOWN,
            )
        return self._judge(ping_s, info, scrub, time.perf_counter() - started)

    def _judge(
        self, ping_s: float, info: Mapping[str, Any], scrub: Scrubber, duration_s: float
    ) -> ProbeResult:
        spec = self._spec
        used = _int(info, "used_memory")
        limit = _int(info, "maxmemory")
        clients = _int(info, "connected_clients")
        is_master = info.get("role") == "master"
        persistence_ok = {
            "rdb_last_bgsave_status": str(info.get("rdb_last_bgsave_status", "ok")),
            "aof_last_write_status": str(info.get("aof_last_write_status", "ok")),
        }
        samples = (
            _sample("redis_up", 1.0, _UP_HELP),
            _sample("redis_ping_seconds", ping_s, "Round trip of PING."),
            _sample("redis_used_memory_bytes", used, "Memory allocated by Redis (used_memory)."),
            _sample("redis_maxmemory_bytes", limit, "The maxmemory setting; 0 is unlimited."),
            _sample("redis_connected_clients", clients, "Client connections (connected_clients)."),
            _sample("redis_role_master", float(is_master), "Whether the server is a master."),
            _sample(
                "redis_rdb_last_bgsave_ok",
                float(persistence_ok["rdb_last_bgsave_status"] == "ok"),
                "Whether the last RDB background save succeeded.",
            ),
        )

        def fail(reason: str) -> ProbeResult:
            return ProbeResult.failure(
                f"redis {scrub.target}: {scrub(reason)}", duration_s, *samples
            )

        if spec.expect_role == "master" and not is_master:
            master = f"{info.get('master_host', '?')}:{info.get('master_port', '?')}"
            return fail(f"is a replica of {master}, expected master: writes fail with READONLY")
        if spec.expect_role == "replica" and is_master:
            return fail("is a master, expected replica")

        warnings = []
        bad = [f"{key}:{value}" for key, value in persistence_ok.items() if value != "ok"]
        if bad:
            if spec.require_persistence_ok:
                return fail(f"persistence is failing ({', '.join(bad)})")
            warnings.append(f"persistence is failing ({', '.join(bad)})")
        if not is_master and info.get("master_link_status", "up") != "up":
            warnings.append("replica's link to its master is down: data is going stale")
        # maxmemory 0 is unlimited: no ratio to judge.
        if limit > 0 and 100.0 * used / limit > spec.max_memory_used_pct:
            warnings.append(
                f"{100.0 * used / limit:.0f}% of maxmemory used "
                f"(above {spec.max_memory_used_pct:g}%)"
            )
        if spec.max_clients is not None and clients > spec.max_clients:
            warnings.append(f"{clients} clients connected (above {spec.max_clients})")
        return ProbeResult(
            success=True,
            duration_s=duration_s,
            error=f"redis {scrub.target}: {scrub('; '.join(warnings))}" if warnings else None,
            degraded=bool(warnings),
            samples=samples,
        )
