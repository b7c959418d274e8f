"""The http step against a local aiohttp server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from runbooks.conftest import Target
from tradewarden.probes.kinds import HttpSpec
from tradewarden.runbooks import HttpStep, RunbookRunner


def http_step(url: str, **fields: object) -> HttpStep:
    return HttpStep(id="health", title="Health", url=url, **fields)  # type: ignore[arg-type]


async def test_a_json_endpoint_is_read_with_templated_url_and_env_headers(
    target: Target, make_runner: Callable[..., RunbookRunner], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TW_RB_AUTH", "Bearer sekrit-token")
    step = http_step(
        "http://{{ labels.instance }}/health?queue={{ labels.queue }}",
        headers_env={"Authorization": "TW_RB_AUTH"},
    )
    instance = target.url.removeprefix("http://")
    runner = make_runner(targets=[instance])  # the instance is a scrape target
    result = await runner.run_step(step, {"instance": instance, "queue": "orders"}, {})
    assert result.status == "ok", result.error
    assert result.output["status"] == 200
    assert result.output["body"] == {"status": "ok", "queue": "orders"}
    assert target.hits == ["GET /health?queue=orders Bearer sekrit-token"]
    assert "sekrit" not in str(result.to_dict())


async def test_an_error_status_fails_and_keeps_the_body(
    target: Target, make_runner: Callable[..., RunbookRunner]
) -> None:
    result = await make_runner().run_step(http_step(f"{target.url}/broken"), {}, {})
    assert (result.status, result.error) == ("failed", "HTTP 503")
    assert result.output["body"] == "database down"


async def test_head_reads_no_body(
    target: Target, make_runner: Callable[..., RunbookRunner]
) -> None:
    result = await make_runner().run_step(http_step(f"{target.url}/health", method="HEAD"), {}, {})
    assert result.status == "ok"
    assert result.output["body"] is None
    assert target.hits[0].startswith("HEAD /health")


async def test_a_big_body_is_cut(target: Target, make_runner: Callable[..., RunbookRunner]) -> None:
    result = await make_runner().run_step(http_step(f"{target.url}/big"), {}, {})
    assert result.status == "ok"
    # The read stops at 64 KiB and the output at 16 KiB of JSON text.
    assert result.output["truncated"] is True
    assert len(result.output["text"]) == 16 * 1024


async def test_a_server_that_never_answers_is_cut_at_the_timeout(
    target: Target, make_runner: Callable[..., RunbookRunner]
) -> None:
    result = await make_runner().run_step(http_step(f"{target.url}/hang", timeout="300ms"), {}, {})
    assert result.status == "timeout"
    assert "0.3 s" in (result.error or "")
    assert target.hits == ["GET /hang"]


async def test_secrets_in_the_url_are_redacted(
    target: Target, make_runner: Callable[..., RunbookRunner]
) -> None:
    url = f"{target.url.replace('http://', 'http://ops:pa55word@')}/health?api_key=abc123secret"
    result = await make_runner().run_step(http_step(url), {}, {})
    assert result.status == "ok"
    shown = str(result.to_dict())
    assert "pa55word" not in shown
    assert "abc123secret" not in shown


async def test_a_refused_connection_fails(make_runner: Callable[..., RunbookRunner]) -> None:
    from support.net import free_port

    result = await make_runner().run_step(http_step(f"http://127.0.0.1:{free_port()}/"), {}, {})
    assert result.status == "failed"
    assert result.error


async def test_a_missing_label_skips_and_an_unset_header_env_errors(
    target: Target, make_runner: Callable[..., RunbookRunner]
) -> None:
    runner = make_runner()
    skipped = await runner.run_step(http_step("http://{{ labels.instance }}/health"), {}, {})
    assert (skipped.status, skipped.error) == ("skipped", "label instance missing")
    unset = await runner.run_step(
        http_step(f"{target.url}/health", headers_env={"X-Key": "TW_RB_NOT_SET"}), {}, {}
    )
    assert unset.status == "error"
    assert "TW_RB_NOT_SET" in (unset.error or "")
    assert target.hits == []


async def test_a_host_from_the_labels_must_be_a_known_target(
    target: Target, make_runner: Callable[..., RunbookRunner]
) -> None:
    step = http_step("http://{{ labels.instance }}/health")
    instance = target.url.removeprefix("http://")
    # Whoever posts an alert picks its labels: an unknown host is never read.
    result = await make_runner().run_step(step, {"instance": instance}, {})
    assert result.status == "skipped"
    assert f"host {instance} comes from the alert's labels" in (result.error or "")
    assert target.hits == []
    # A scrape target, a host listed in runbooks.http_hosts (any port), or an http monitor's.
    for runner in (
        make_runner(targets=[instance.upper()]),
        make_runner(http_hosts=["127.0.0.1"]),
        make_runner(http_hosts=[instance]),
        make_runner(monitors=[_http_monitor(f"{target.url}/elsewhere")]),
    ):
        result = await runner.run_step(step, {"instance": instance}, {})
        assert result.status == "ok", result.error
    assert len(target.hits) == 4


async def test_a_literal_host_with_a_templated_path_is_read(
    target: Target, make_runner: Callable[..., RunbookRunner]
) -> None:
    step = http_step(f"{target.url}/health?queue={{{{ labels.queue }}}}")
    result = await make_runner().run_step(step, {"queue": "orders"}, {})
    assert result.status == "ok", result.error
    assert target.hits == ["GET /health?queue=orders None"]


def _http_monitor(url: str) -> HttpSpec:
    return HttpSpec(name="api", url=url, interval_s=3600)
