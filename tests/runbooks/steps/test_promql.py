"""The promql step: an instant query over a real series store with a few series."""

from __future__ import annotations

from collections.abc import Callable

from tradewarden.clock import ManualClock
from tradewarden.promql import Engine
from tradewarden.runbooks import PromqlStep, RunbookRunner
from tradewarden.series import Labels
from tradewarden.series._store import SeriesStore

NOW_S = 1_700_000_000.0


def engine() -> Engine:
    store = SeriesStore()
    t_ms = int(NOW_S * 1000) - 5_000
    for queue, waiting in (("orders", 120.0), ("signals", 4.0)):
        store.append(Labels.of(__name__="queue_jobs_waiting", queue=queue), t_ms, waiting)
    store.append(Labels.of(__name__="up", job="tradewarden", instance="self"), t_ms, 1.0)
    return Engine(store)


def step(query: str) -> PromqlStep:
    return PromqlStep(id="waiting-now", title="Jobs waiting now", query=query)


async def test_a_templated_query_reads_the_store(make_runner: Callable[..., RunbookRunner]) -> None:
    runner = make_runner(engine=engine(), clock=ManualClock(NOW_S))
    result = await runner.run_step(
        step('sum by (queue) (queue_jobs_waiting{queue="{{ labels.queue }}"})'),
        {"queue": "orders"},
        {},
    )
    assert result.status == "ok", result.error
    assert result.output["query"] == 'sum by (queue) (queue_jobs_waiting{queue="orders"})'
    assert result.output["resultType"] == "vector"
    assert result.output["result"] == [{"metric": {"queue": "orders"}, "value": [NOW_S, 120.0]}]
    assert result.started_at.timestamp() == NOW_S


async def test_scalars_and_empty_results(make_runner: Callable[..., RunbookRunner]) -> None:
    runner = make_runner(engine=engine(), clock=ManualClock(NOW_S))
    scalar = await runner.run_step(step("scalar(up) * 2"), {}, {})
    assert scalar.output["result"] == [NOW_S, 2.0]
    empty = await runner.run_step(step("absent_metric"), {}, {})
    assert (empty.status, empty.output["result"]) == ("ok", [])


async def test_a_query_the_engine_refuses_fails(make_runner: Callable[..., RunbookRunner]) -> None:
    runner = make_runner(engine=engine(), clock=ManualClock(NOW_S))
    result = await runner.run_step(step('rate(up{job="{{ labels.job }}"})'), {"job": "x"}, {})
    assert result.status == "failed"
    assert "query error" in (result.error or "")


async def test_without_a_store_the_step_is_skipped(
    make_runner: Callable[..., RunbookRunner],
) -> None:
    result = await make_runner().run_step(step("up"), {}, {})
    assert (result.status, result.error) == ("skipped", "no series store to query")
