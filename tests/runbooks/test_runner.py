"""RunbookRunner: steps in order, each result handed over as it ends, step and run
timeouts, and no step's failure ever raised."""

from __future__ import annotations

import json
from collections.abc import Callable

from runbooks.conftest import Scratch, Target
from runbooks.steps.test_promql import NOW_S, engine
from tradewarden.clock import ManualClock
from tradewarden.runbooks import (
    HttpStep,
    PromqlStep,
    Runbook,
    RunbookRunner,
    SqlStep,
    StepResult,
    bundled_files,
    parse_runbook,
)


def runbook(*steps: object) -> Runbook:
    return Runbook.model_validate(
        {
            "id": "runner-test",
            "title": "Runner",
            "summary": "s",
            "symptoms": ["s"],
            "diagnosis": ["d"],
            "resolution": ["r"],
            "automated": list(steps),
        }
    )


def http(step_id: str, url: str, **fields: object) -> dict[str, object]:
    return {"id": step_id, "title": step_id, "kind": "http", "url": url, **fields}


async def test_steps_run_in_order_and_each_result_is_handed_over_as_it_ends(
    target: Target, scratch: Scratch, make_runner: Callable[..., RunbookRunner]
) -> None:
    seen: list[tuple[str, str, int]] = []

    async def on_step(result: StepResult) -> None:
        seen.append((result.step_id, result.status, len(target.hits)))

    book = runbook(
        http("health", f"{target.url}/health"),
        http("broken", f"{target.url}/broken"),
        {
            "id": "db",
            "title": "db",
            "kind": "sql",
            "connection": "app-db",
            "query": "SELECT 1 AS one",
        },
        http("needs-label", "http://{{ labels.instance }}/health"),
        {"id": "store", "title": "store", "kind": "promql", "query": "up"},
    )
    results = await make_runner().run(book, {}, {}, on_step=on_step)
    assert [(r.step_id, r.status) for r in results] == [
        ("health", "ok"),
        ("broken", "failed"),
        ("db", "ok"),
        ("needs-label", "skipped"),
        ("store", "skipped"),
    ]
    # on_step saw each result right after its step: before the next step's request.
    assert seen == [
        ("health", "ok", 1),
        ("broken", "failed", 2),
        ("db", "ok", 2),
        ("needs-label", "skipped", 2),
        ("store", "skipped", 2),
    ]
    for result in results:
        encoded = json.dumps(result.to_dict())
        assert json.loads(encoded)["step_id"] == result.step_id
        assert result.started_at.tzinfo is not None


async def test_a_hung_step_is_cut_and_the_run_goes_on(
    target: Target, make_runner: Callable[..., RunbookRunner]
) -> None:
    book = runbook(
        http("hangs", f"{target.url}/hang", timeout="200ms"),
        http("after", f"{target.url}/health"),
    )
    results = await make_runner().run(book, {}, {})
    assert [(r.step_id, r.status) for r in results] == [("hangs", "timeout"), ("after", "ok")]
    assert results[0].error is not None
    assert "cut at its timeout of 0.2 s" in results[0].error


async def test_the_whole_run_is_cut_at_the_run_timeout(
    target: Target, make_runner: Callable[..., RunbookRunner]
) -> None:
    book = runbook(
        http("first-hang", f"{target.url}/hang"),
        http("never-runs", f"{target.url}/health"),
    )
    results = await make_runner(step_timeout=30, run_timeout=0.3).run(book, {}, {})
    assert [(r.step_id, r.status) for r in results] == [
        ("first-hang", "timeout"),
        ("never-runs", "skipped"),
    ]
    assert "cut at the run timeout" in (results[0].error or "")
    assert results[1].error == "the run timeout (0.3 s) was reached"
    assert target.hits == ["GET /hang"]


async def test_a_broken_step_or_callback_never_raises(
    target: Target, make_runner: Callable[..., RunbookRunner]
) -> None:
    calls: list[str] = []

    async def on_step(result: StepResult) -> None:
        calls.append(result.step_id)
        raise RuntimeError("the timeline is down")

    # Steps built around the model: a kind the runner has no module for, a URL no HTTP.
    odd = PromqlStep.model_construct(id="odd", title="odd", kind="shell", query="rm -rf /")
    bad_url = HttpStep.model_construct(
        id="bad-url", title="b", kind="http", url="file:///etc/passwd", method="GET", headers_env={}
    )
    book = runbook().model_copy(update={"automated": (odd, bad_url)})
    results = await make_runner().run(book, {}, {}, on_step=on_step)
    assert [(r.step_id, r.status) for r in results] == [("odd", "error"), ("bad-url", "error")]
    assert "'shell' is not a runbook step kind" in (results[0].error or "")
    assert calls == ["odd", "bad-url"]


async def test_the_example_runbook_reads_the_self_scrape(
    make_runner: Callable[..., RunbookRunner],
) -> None:
    path = next(p for p in bundled_files() if p.name == "warden-self-check.yml")
    book = parse_runbook(path.read_text(), "bundled:warden-self-check.yml")
    runner = make_runner(engine=engine(), clock=ManualClock(NOW_S))
    (result,) = await runner.run(book, {"job": "tradewarden"}, {})
    assert (result.step_id, result.status) == ("warden-up", "ok")
    up = {"__name__": "up", "job": "tradewarden", "instance": "self"}
    assert result.output["result"] == [{"metric": up, "value": [NOW_S, 1.0]}]


async def test_a_connection_whose_secret_is_unset_is_an_error(
    make_runner: Callable[..., RunbookRunner],
) -> None:
    step = SqlStep(id="db", title="db", connection="app-db", query="SELECT 1")
    result = await make_runner().run_step(step, {}, {})
    # No scratch fixture, so TW_RUNBOOK_TEST_PG_URL is unset: the URL cannot be read.
    assert result.status == "error"
    assert "TW_RUNBOOK_TEST_PG_URL" in (result.error or "")
