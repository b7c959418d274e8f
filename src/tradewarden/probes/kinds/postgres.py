"""PostgreSQL: is the server up, in the expected role, with room for more connections?

One check is what an operator types by hand, on one fresh connection::

    psql -c "SELECT 1"
    psql -c "SELECT count(*) FROM pg_stat_activity"; psql -c "SHOW max_connections"
    psql -c "SELECT pg_is_in_recovery()"

The connection is closed whatever happens, cancellation by the scheduler's timeout
included: a monitor must not hold one of the server's ``max_connections`` between checks.

The DSN is a secret. It comes inline (``dsn``), from an environment variable
(``dsn_env``) or from a file (``dsn_file``), and its password never appears in an error,
a label or a sample. The role used needs ``pg_monitor`` (or superuser) to see the queries
of other users in ``pg_stat_activity``; without it their ages read as zero.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Self

import asyncpg
from pydantic import ConfigDict, Field, SecretStr, field_validator, model_validator

from tradewarden.probes._model import Probe, ProbeContext, ProbeResult, Sample
from tradewarden.probes._secrets import EnvName, Scrubber, check_url, one_source, read_secret
from tradewarden.probes._spec import MonitorSpec

__all__ = ["PostgresSpec"]

_SCHEMES = frozenset({"postgresql", "postgres"})
_APPLICATION_NAME = "tradewarden-probe"


# One round trip after SELECT 1. Only client backends count: background workers do not
# take a max_connections slot, and a walsender is "active" for as long as its replica
# streams, which would read as a query running for days.
_STATS_SQL = """
SELECT
    pg_is_in_recovery() AS in_recovery,
    current_setting('max_connections')::int AS max_connections,
    (SELECT count(*) FROM pg_stat_activity
      WHERE backend_type = 'client backend') AS connections,
    (SELECT coalesce(extract(epoch FROM max(clock_timestamp() - query_start)), 0)::float8
       FROM pg_stat_activity
      WHERE backend_type = 'client backend'
        AND state <> 'idle'
        AND pid <> pg_backend_pid()) AS longest_query_s
"""


class PostgresSpec(MonitorSpec):
    """Check a PostgreSQL server: reachable, in the expected role, not near its limits."""

    # A DSN is a secret: never echo it back in a validation error.
    model_config = ConfigDict(hide_input_in_errors=True)

    kind: Literal["postgres"] = "postgres"
    dsn: SecretStr | None = None
    dsn_env: EnvName | None = None
    dsn_file: Path | None = None
    expect_role: Literal["primary", "replica", "any"] = "any"
    max_connections_used_pct: float = Field(default=90.0, gt=0, le=100)
    max_query_age_s: float | None = Field(default=None, gt=0)
    slow_ms: float | None = Field(default=None, gt=0)

    @field_validator("dsn")
    @classmethod
    def _dsn_is_a_postgres_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            problem = _dsn_problem(value.get_secret_value())
            if problem:
                raise ValueError(f"dsn {problem}")
        return value

    @model_validator(mode="after")
    def _exactly_one_dsn_source(self) -> Self:
        one_source("dsn", self.dsn, self.dsn_env, self.dsn_file)
        return self

    def resolve_dsn(self) -> str:
        """Return the DSN from where it is configured; raise ValueError saying what is wrong.

        Read on every check, so a rotated secret is picked up without a restart.
        """
        return read_secret("dsn", self.dsn, self.dsn_env, self.dsn_file, _dsn_problem)

    def build(self) -> Probe:
        return _PostgresProbe(self)


def _dsn_problem(dsn: str) -> str | None:
    """Return what is wrong with ``dsn``, without quoting it, or None."""
    return check_url(dsn, _SCHEMES, "postgresql://")


@dataclass(frozen=True, slots=True)
class _Reading:
    select1_s: float
    in_recovery: bool
    connections: int
    max_connections: int
    longest_query_s: float


async def _read(dsn: str, timeout_s: float) -> _Reading:
    connection: Any = await asyncpg.connect(
        dsn,
        timeout=timeout_s,
        command_timeout=timeout_s,
        # A fresh connection per check gains nothing from caching prepared statements, and
        # a PgBouncer in transaction mode would break them.
        statement_cache_size=0,
        server_settings={"application_name": _APPLICATION_NAME},
    )
    try:
        started = time.perf_counter()
        await connection.fetchval("SELECT 1")
        select1_s = time.perf_counter() - started
        row = await connection.fetchrow(_STATS_SQL)
    except BaseException:
        # Cancelled, timed out or broken: drop the socket now rather than wait on a server
        # that may not answer a polite goodbye.
        connection.terminate()
        raise
    # The readings are in; a failed goodbye does not fail the check (close() aborts the
    # connection itself when the goodbye fails or is cancelled).
    with contextlib.suppress(Exception):
        await connection.close(timeout=timeout_s)
    return _Reading(
        select1_s=select1_s,
        in_recovery=bool(row["in_recovery"]),
        connections=int(row["connections"]),
        max_connections=int(row["max_connections"]),
        longest_query_s=max(0.0, float(row["longest_query_s"])),
    )


def _describe(exc: Exception) -> str:
    """Return a short, operator-facing account of why the check failed."""
    if isinstance(exc, ConnectionRefusedError):
        return f"connection refused ({exc})"
    if isinstance(exc, OSError):
        return f"cannot connect: {exc.strerror or exc}"
    if isinstance(
        exc, asyncpg.InvalidPasswordError | asyncpg.InvalidAuthorizationSpecificationError
    ):
        return f"authentication failed: {exc}"
    if isinstance(exc, asyncpg.PostgresError):
        sqlstate = getattr(exc, "sqlstate", None)
        return f"{exc} (SQLSTATE {sqlstate})" if sqlstate else str(exc)
    return f"{type(exc).__name__}: {exc}"


def _sample(name: str, value: float, help_text: str) -> Sample:
    return Sample(name, value, help=help_text)


_DOWN = _sample("postgres_up", 0.0, "Whether the server answered the check (1) or not (0).")


class _PostgresProbe:
    def __init__(self, spec: PostgresSpec) -> None:
        self._spec = spec

    async def run(self, ctx: ProbeContext) -> ProbeResult:
        started = time.perf_counter()
        try:
            dsn = await asyncio.to_thread(self._spec.resolve_dsn)
        except ValueError as exc:
            return ProbeResult.failure(str(exc), time.perf_counter() - started, _DOWN)
        scrub = Scrubber(dsn)
        try:
            async with asyncio.timeout(ctx.timeout_s):
                reading = await _read(dsn, ctx.timeout_s)
        except TimeoutError:
            error = f"timed out after {ctx.timeout_s:g} s"
            return ProbeResult.failure(
                f"postgres {scrub.target}: {error}", time.perf_counter() - started, _DOWN
            )
        except Exception as exc:  # noqa: BLE001 - every failure is a DOWN result with its reason
            return ProbeResult.failure(
                f"postgres {scrub.target}: {scrub(_describe(exc))}",
                time.perf_counter() - started,
                _DOWN,
            )
        return self._judge(reading, scrub.target, time.perf_counter() - started)

    def _judge(self, reading: _Reading, target: str, duration_s: float) -> ProbeResult:
        spec = self._spec
        samples = (
            _sample("postgres_up", 1.0, "Whether the server answered the check (1) or not (0)."),
            _sample("postgres_select1_seconds", reading.select1_s, "Round trip of SELECT 1."),
            _sample(
                "postgres_connections",
                reading.connections,
                "Client connections open on the server (pg_stat_activity).",
            ),
            _sample(
                "postgres_max_connections", reading.max_connections, "The max_connections setting."
            ),
            _sample(
                "postgres_in_recovery",
                float(reading.in_recovery),
                "Whether the server is a replica in recovery (1) or a primary (0).",
            ),
            _sample(
                "postgres_longest_query_seconds",
                reading.longest_query_s,
                "Age of the longest running non-idle query of another backend.",
            ),
        )
        role = "replica" if reading.in_recovery else "primary"
        if spec.expect_role not in {"any", role}:
            return ProbeResult.failure(
                f"postgres {target}: is a {role}, expected {spec.expect_role}",
                duration_s,
                *samples,
            )

        warnings = []
        used_pct = 100.0 * reading.connections / max(reading.max_connections, 1)
        if used_pct > spec.max_connections_used_pct:
            warnings.append(
                f"{reading.connections} of {reading.max_connections} connections in use "
                f"({used_pct:.0f}%, above {spec.max_connections_used_pct:g}%)"
            )
        if spec.max_query_age_s is not None and reading.longest_query_s > spec.max_query_age_s:
            warnings.append(
                f"a query has been running for {reading.longest_query_s:.1f} s "
                f"(above {spec.max_query_age_s:g} s)"
            )
        if spec.slow_ms is not None and reading.select1_s * 1000 > spec.slow_ms:
            warnings.append(
                f"SELECT 1 took {reading.select1_s * 1000:.0f} ms, "
                f"slower than slow_ms ({spec.slow_ms:g})"
            )
        return ProbeResult(
            success=True,
            duration_s=duration_s,
            error=f"postgres {target}: {'; '.join(warnings)}" if warnings else None,
            degraded=bool(warnings),
            samples=samples,
        )
