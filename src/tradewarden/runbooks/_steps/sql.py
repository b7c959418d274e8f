"""``sql``: one query on a PostgreSQL connection, in a READ ONLY transaction.

The load-time check (``_readonly.check_sql``) is the first line; this is the one that
holds: the transaction is ``READ ONLY``, so PostgreSQL itself refuses any write the check
missed (``cannot execute INSERT in a read-only transaction``), and ``statement_timeout``
is the step's timeout, so the server stops a long query rather than only the client
giving up. ``standard_conforming_strings`` is set on so a backslash means what the
load-time check read it as. One fresh connection per step, closed whatever happens.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import asyncpg

from tradewarden.probes._secrets import Scrubber
from tradewarden.runbooks._model import SqlStep
from tradewarden.runbooks._readonly import bind_named_params
from tradewarden.runbooks._steps._base import Outcome, StepContext
from tradewarden.runbooks._steps._connections import resolve_connection
from tradewarden.runbooks._templates import render

__all__ = ["MAX_ROWS", "run"]

MAX_ROWS = 100
_APPLICATION_NAME = "tradewarden-runbook"
_QUERY_CANCELED = "57014"
_TRUE = frozenset({"true", "t", "1", "yes", "on"})


def _coerce(value: str, type_name: str) -> Any:
    """Turn a rendered (text) parameter into what asyncpg expects for ``type_name``."""
    if type_name in {"int2", "int4", "int8", "oid"}:
        return int(value)
    if type_name in {"float4", "float8"}:
        return float(value)
    if type_name == "numeric":
        return Decimal(value)
    if type_name == "bool":
        return value.strip().lower() in _TRUE
    return value


def _coerced(name: str, value: str, type_name: str) -> Any:
    try:
        return _coerce(value, type_name)
    except (ArithmeticError, ValueError):
        raise ValueError(f"params: {name}: {value!r} is not a valid {type_name}") from None


async def _query(
    dsn: str, sql: str, names: Sequence[str], args: Sequence[str], timeout_s: float
) -> tuple[list[str], list[dict[str, Any]], bool]:
    connection: Any = await asyncpg.connect(
        dsn,
        timeout=timeout_s,
        statement_cache_size=0,
        server_settings={"application_name": _APPLICATION_NAME},
    )
    try:
        async with connection.transaction(readonly=True):
            await connection.execute(
                f"SET LOCAL statement_timeout = {max(1, int(timeout_s * 1000))}"
            )
            await connection.execute("SET LOCAL standard_conforming_strings = on")
            statement = await connection.prepare(sql)
            types = [t.name for t in statement.get_parameters()]
            values = [_coerced(n, v, t) for n, v, t in zip(names, args, types, strict=True)]
            columns = [a.name for a in statement.get_attributes()]
            cursor = await statement.cursor(*values)
            records = await cursor.fetch(MAX_ROWS + 1)
    except BaseException:
        # Cancelled (the step's timeout), or refused: drop the socket at once rather than
        # wait on a polite goodbye from a server that may be busy with our query.
        connection.terminate()
        raise
    with contextlib.suppress(Exception):
        await connection.close(timeout=timeout_s)
    rows = [dict(record) for record in records[:MAX_ROWS]]
    return columns, rows, len(records) > MAX_ROWS


async def run(
    step: SqlStep, ctx: StepContext, labels: Mapping[str, str], annotations: Mapping[str, str]
) -> Outcome:
    """Run the query; a refusal by PostgreSQL is ``failed`` with its message and SQLSTATE."""
    dsn = await resolve_connection(step.connection, "postgres", ctx)
    sql, names = bind_named_params(step.query)
    args = [render(step.params[name], labels, annotations) for name in names]
    scrub = Scrubber(dsn)
    try:
        columns, rows, truncated = await _query(dsn, sql, names, args, ctx.timeout_s)
    except asyncpg.PostgresError as exc:
        sqlstate = getattr(exc, "sqlstate", None)
        message = scrub(f"{exc} (SQLSTATE {sqlstate})" if sqlstate else str(exc))
        if sqlstate == _QUERY_CANCELED:
            raise TimeoutError(f"statement_timeout: {message}") from exc
        return Outcome("failed", {"connection": step.connection}, message)
    except OSError as exc:
        return Outcome(
            "failed",
            {"connection": step.connection},
            scrub(f"cannot connect to {scrub.target}: {exc.strerror or exc}"),
        )
    return Outcome(
        "ok",
        {
            "connection": step.connection,
            "columns": columns,
            "rows": rows,
            "row_count": len(rows),
            "truncated": truncated,
        },
    )
