"""The sql step against the real PostgreSQL: rows as dicts, bind parameters, and READ ONLY
holding even when the load-time check is bypassed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from runbooks.conftest import Scratch
from tradewarden.runbooks import RunbookRunner, SqlStep

pytestmark = pytest.mark.postgres


def sql_step(query: str, **fields: Any) -> SqlStep:
    return SqlStep(id="pg-step", title="A query", connection="app-db", query=query, **fields)


def unchecked(query: str, **fields: Any) -> SqlStep:
    """A step built around the model: what a bug in the load-time check would let through."""
    fields.setdefault("params", {})
    return SqlStep.model_construct(
        id="pg-write", title="A write", kind="sql", connection="app-db", query=query, **fields
    )


async def test_rows_come_back_as_dicts_with_bound_parameters(
    scratch: Scratch, make_runner: Callable[..., RunbookRunner]
) -> None:
    step = sql_step(
        f"SELECT queue, jobs, jobs::numeric / 2 AS half, now() AS at FROM {scratch.table} "  # noqa: S608
        "WHERE queue = :queue AND jobs > :least ORDER BY id",
        params={"queue": "{{ labels.queue }}", "least": "{{ annotations.least }}"},
    )
    result = await make_runner().run_step(step, {"queue": "orders"}, {"least": "5"})
    assert result.status == "ok", result.error
    assert result.output["columns"] == ["queue", "jobs", "half", "at"]
    assert result.output["row_count"] == 1
    row = result.output["rows"][0]
    assert (row["queue"], row["jobs"], row["half"]) == ("orders", 7, "3.5000000000000000")
    assert isinstance(row["at"], str)
    assert result.output["truncated"] is False


async def test_at_most_100_rows_are_kept(
    scratch: Scratch, make_runner: Callable[..., RunbookRunner]
) -> None:
    result = await make_runner().run_step(sql_step("SELECT generate_series(1, 500) AS n"), {}, {})
    assert result.status == "ok"
    assert result.output["row_count"] == 100
    assert result.output["truncated"] is True
    assert result.output["rows"][-1] == {"n": 100}


async def test_show_and_values_run(
    scratch: Scratch, make_runner: Callable[..., RunbookRunner]
) -> None:
    runner = make_runner()
    shown = await runner.run_step(sql_step("SHOW transaction_read_only"), {}, {})
    assert shown.output["rows"] == [{"transaction_read_only": "on"}]
    values = await runner.run_step(sql_step("VALUES (1, 'a')"), {}, {})
    assert values.output["rows"] == [{"column1": 1, "column2": "a"}]


@pytest.mark.parametrize(
    "query",
    [
        "INSERT INTO {table} (queue, jobs) VALUES ('evil', 1)",
        "WITH gone AS (DELETE FROM {table} RETURNING *) SELECT count(*) FROM gone",
        "UPDATE {table} SET jobs = 0",
        "SELECT nextval('{table}_id_seq')",
    ],
)
async def test_a_write_fails_in_postgresql_even_past_the_load_check(
    query: str, scratch: Scratch, make_runner: Callable[..., RunbookRunner]
) -> None:
    before, sequence = await scratch.count(), await scratch.sequence_value()
    step = unchecked(query.format(table=scratch.table))
    result = await make_runner().run_step(step, {}, {})
    assert result.status == "failed"
    assert result.error is not None
    assert "read-only transaction" in result.error
    assert "SQLSTATE 25006" in result.error
    assert await scratch.count() == before
    assert await scratch.sequence_value() == sequence


async def test_a_hung_query_is_cut_at_its_timeout(
    scratch: Scratch, make_runner: Callable[..., RunbookRunner]
) -> None:
    result = await make_runner().run_step(sql_step("SELECT pg_sleep(30)", timeout=0.5), {}, {})
    assert result.status == "timeout"
    assert result.error is not None
    assert "0.5 s" in result.error


async def test_an_unconfigured_connection_skips_the_step(
    make_runner: Callable[..., RunbookRunner],
) -> None:
    step = SqlStep(id="other", title="Other", connection="reports-db", query="SELECT 1")
    result = await make_runner().run_step(step, {}, {})
    assert (result.status, result.error) == ("skipped", "connection reports-db is not configured")


async def test_a_label_that_is_no_number_for_a_number_parameter_is_an_error(
    scratch: Scratch, make_runner: Callable[..., RunbookRunner]
) -> None:
    step = sql_step(
        f"SELECT count(*) AS n FROM {scratch.table} WHERE jobs > :least",  # noqa: S608
        params={"least": "{{ labels.least }}"},
    )
    runner = make_runner()
    good = await runner.run_step(step, {"least": "5"}, {})
    assert good.output["rows"] == [{"n": 1}]
    bad = await runner.run_step(step, {"least": "many"}, {})
    assert bad.status == "error"
    assert "params: least: 'many' is not a valid int4" in (bad.error or "")


async def test_a_missing_parameter_label_skips_the_step(
    scratch: Scratch, make_runner: Callable[..., RunbookRunner]
) -> None:
    step = sql_step("SELECT :q::text AS q", params={"q": "{{ labels.queue }}"})
    result = await make_runner().run_step(step, {}, {})
    assert (result.status, result.error) == ("skipped", "label queue missing")


async def test_a_postgres_monitor_lends_its_connection(
    scratch: Scratch, make_runner: Callable[..., RunbookRunner]
) -> None:
    from tradewarden.probes.kinds import PostgresSpec

    monitor = PostgresSpec(name="main-db", dsn=scratch.url)
    step = SqlStep(id="via-monitor", title="M", connection="main-db", query="SELECT 1 AS one")
    result = await make_runner(monitors=[monitor]).run_step(step, {}, {})
    assert result.status == "ok"
    assert result.output["rows"] == [{"one": 1}]


async def test_a_refused_connection_fails_without_its_password(
    make_runner: Callable[..., RunbookRunner], monkeypatch: pytest.MonkeyPatch
) -> None:
    from support.net import free_port

    monkeypatch.setenv(
        "TW_RUNBOOK_TEST_PG_URL", f"postgresql://u:hunter2@127.0.0.1:{free_port()}/x"
    )
    result = await make_runner().run_step(sql_step("SELECT 1"), {}, {})
    assert result.status == "failed"
    assert "hunter2" not in (result.error or "")
