"""The http monitor kind against real local servers (HTTP and HTTPS on 127.0.0.1)."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import ssl
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import aiohttp.abc
import httpx
import pytest
import trustme
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from probes._targets import HUGE_BYTES, JSON_BODY, HttpTarget, closed_port
from support.eventually import eventually
from tradewarden.clock import ManualClock
from tradewarden.probes import ProbeContext, ProbeResult, new_web_session
from tradewarden.probes.kinds.http import HttpSpec, parse_json_path, resolve_json_path

Build = Callable[..., Any]


@pytest.fixture
def target() -> Iterator[HttpTarget]:
    with HttpTarget() as server:
        yield server


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(trust_env=False) as client:
        yield client


@pytest.fixture
async def web() -> AsyncIterator[aiohttp.ClientSession]:
    async with new_web_session(max_connections=16) as session:
        yield session


@pytest.fixture
def ctx(http: httpx.AsyncClient, web: aiohttp.ClientSession, clock: ManualClock) -> ProbeContext:
    return ProbeContext(clock=clock, timeout_s=5.0, http=http, web=web)


@pytest.fixture
async def build() -> AsyncIterator[Build]:
    """Return a factory of probes from spec fields; close the probes' own clients after."""
    built: list[Any] = []

    def _build(**fields: Any) -> Any:
        probe = HttpSpec(name="target", **fields).build()
        built.append(probe)
        return probe

    yield _build
    for probe in built:
        await probe.aclose()


def sample(result: ProbeResult, name: str) -> float:
    (value,) = [s.value for s in result.samples if s.name == name]
    return value


def names(result: ProbeResult) -> set[str]:
    return {s.name for s in result.samples}


def error_locs(exc: pytest.ExceptionInfo[ValidationError]) -> list[tuple[int | str, ...]]:
    return [error["loc"] for error in exc.value.errors()]


# --- Spec validation -------------------------------------------------------------------


def test_spec_defaults_to_a_get_expecting_2xx() -> None:
    spec = HttpSpec(name="api", url="https://example.test/health")
    assert spec.kind == "http"
    assert spec.method == "GET"
    assert spec.expect_status == (200, 299)
    assert spec.max_body_bytes == 1_048_576
    assert spec.verify_tls
    assert spec.follow_redirects


def test_method_is_accepted_in_any_case() -> None:
    assert HttpSpec(name="api", url="http://h/", method="post").method == "POST"


@pytest.mark.parametrize("url", ["ftp://example.test/", "example.test/health", "http:///path"])
def test_url_without_http_scheme_or_host_is_rejected_naming_url(url: str) -> None:
    with pytest.raises(ValidationError) as exc:
        HttpSpec(name="api", url=url)
    assert error_locs(exc) == [("url",)]


def test_rejected_url_is_not_echoed_in_the_error() -> None:
    with pytest.raises(ValidationError) as exc:
        HttpSpec(name="api", url="ftp://example.test/?key=s3cret-key")
    assert "s3cret-key" not in str(exc.value)


def test_json_compare_without_json_path_is_rejected() -> None:
    with pytest.raises(ValidationError) as exc:
        HttpSpec(name="api", url="http://h/", json_compare="==", json_value="up")
    assert error_locs(exc) == [("json_compare",)]


def test_json_equals_without_json_path_is_rejected() -> None:
    with pytest.raises(ValidationError) as exc:
        HttpSpec(name="api", url="http://h/", json_equals="up")
    assert error_locs(exc) == [("json_equals",)]


def test_json_value_without_json_compare_is_rejected() -> None:
    with pytest.raises(ValidationError) as exc:
        HttpSpec(name="api", url="http://h/", json_path="a", json_value=3)
    assert error_locs(exc) == [("json_value",)]


def test_ordering_comparison_without_a_value_is_rejected() -> None:
    with pytest.raises(ValidationError) as exc:
        HttpSpec(name="api", url="http://h/", json_path="data.lag", json_compare="<")
    assert error_locs(exc) == [("json_value",)]


def test_json_equals_and_json_compare_together_are_rejected() -> None:
    with pytest.raises(ValidationError) as exc:
        HttpSpec(
            name="api",
            url="http://h/",
            json_path="a",
            json_equals=1,
            json_compare="==",
            json_value=1,
        )
    assert error_locs(exc) == [("json_compare",)]


@pytest.mark.parametrize("path", ["", "a..b", "a.[0]", "a[x]", "a]", "[0]x"])
def test_malformed_json_path_is_rejected(path: str) -> None:
    with pytest.raises(ValidationError) as exc:
        HttpSpec(name="api", url="http://h/", json_path=path)
    assert error_locs(exc) == [("json_path",)]


def test_expect_status_out_of_order_is_rejected() -> None:
    with pytest.raises(ValidationError) as exc:
        HttpSpec(name="api", url="http://h/", expect_status=(299, 200))
    assert error_locs(exc) == [("expect_status",)]


def test_expect_status_outside_http_codes_is_rejected() -> None:
    with pytest.raises(ValidationError) as exc:
        HttpSpec(name="api", url="http://h/", expect_status=(200, 700))
    assert error_locs(exc) == [("expect_status", 1)]


def test_timeout_longer_than_interval_is_rejected_by_the_base_spec() -> None:
    with pytest.raises(ValidationError) as exc:
        HttpSpec(name="api", url="http://h/", interval_s=5, timeout_s=10)
    (error,) = exc.value.errors()
    # MonitorSpec checks this in a model validator, whose errors carry no loc: the
    # message is what names the field.
    assert "timeout_s" in ".".join(map(str, error["loc"])) + error["msg"]


def test_keyword_with_head_is_rejected() -> None:
    with pytest.raises(ValidationError) as exc:
        HttpSpec(name="api", url="http://h/", method="HEAD", keyword="ok")
    assert error_locs(exc) == [("keyword",)]


def test_ca_file_without_verification_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as exc:
        HttpSpec(name="api", url="https://h/", verify_tls=False, ca_file=tmp_path / "ca.pem")
    assert error_locs(exc) == [("ca_file",)]


def test_fail_days_beyond_warn_days_are_rejected() -> None:
    with pytest.raises(ValidationError) as exc:
        HttpSpec(name="api", url="https://h/", cert_expiry_fail_days=30)
    assert error_locs(exc) == [("cert_expiry_fail_days",)]


def test_header_with_line_break_is_rejected_without_echoing_its_value() -> None:
    with pytest.raises(ValidationError) as exc:
        HttpSpec(name="api", url="http://h/", headers={"X-Api-Key": "s3cret\r\nEvil: 1"})
    assert error_locs(exc) == [("headers",)]
    assert "s3cret" not in str(exc.value)


def test_secrets_stay_out_of_the_repr() -> None:
    spec = HttpSpec(
        name="api",
        url="http://h/?key=s3cret-key",
        headers={"Authorization": "Bearer s3cret-token"},
        body='{"password": "s3cret-password"}',
    )
    assert "s3cret" not in repr(spec)
    assert "url='http://h/?key=***'" in repr(spec)


# --- JSON paths ------------------------------------------------------------------------


def test_json_path_parses_keys_and_indexes() -> None:
    assert parse_json_path("data.items[0].status") == ("data", "items", 0, "status")
    assert parse_json_path("[1][-1].x-y") == (1, -1, "x-y")


def test_json_path_resolves_or_reports_missing() -> None:
    document = {"a": [{"b": None}, 2]}
    assert resolve_json_path(document, ("a", 0, "b")) == (True, None)
    assert resolve_json_path(document, ("a", -1)) == (True, 2)
    assert resolve_json_path(document, ("a", 2)) == (False, None)
    assert resolve_json_path(document, ("a", "b")) == (False, None)
    assert resolve_json_path(document, ("a", 1, "c")) == (False, None)


_keys = st.text(st.characters(exclude_characters=".[]", codec="utf-8"), min_size=1)


@given(
    steps=st.lists(st.one_of(_keys, st.integers(0, 3)), min_size=1, max_size=6).filter(
        lambda s: isinstance(s[0], str)
    ),
    leaf=st.one_of(st.none(), st.booleans(), st.integers(), st.text()),
)
def test_json_path_finds_the_value_it_names(steps: list[str | int], leaf: Any) -> None:
    document: Any = leaf
    for step in reversed(steps):
        document = [None] * step + [document] if isinstance(step, int) else {step: document}
    text = "".join(f"[{s}]" if isinstance(s, int) else f".{s}" for s in steps).lstrip(".")
    assert parse_json_path(text) == tuple(steps)
    assert resolve_json_path(document, tuple(steps)) == (True, leaf)


# --- Responses -------------------------------------------------------------------------


async def test_healthy_json_endpoint_passes_with_blackbox_samples(
    target: HttpTarget, build: Build, ctx: ProbeContext
) -> None:
    result = await build(url=target.url("/json")).run(ctx)
    assert result.success
    assert not result.degraded
    assert result.error is None
    assert sample(result, "probe_http_status_code") == 200
    assert sample(result, "probe_http_ssl") == 0
    assert sample(result, "probe_http_content_length") == len(JSON_BODY)
    assert sample(result, "probe_http_duration_seconds") == result.duration_s
    assert "probe_ssl_earliest_cert_expiry" not in names(result)


async def test_unexpected_status_fails_naming_status_and_range(
    target: HttpTarget, build: Build, ctx: ProbeContext
) -> None:
    result = await build(url=target.url("/status/500")).run(ctx)
    assert not result.success
    assert result.error == "status 500, expected 200-299"
    assert sample(result, "probe_http_status_code") == 500


async def test_status_range_can_expect_an_error_code(
    target: HttpTarget, build: Build, ctx: ProbeContext
) -> None:
    result = await build(url=target.url("/status/404"), expect_status=(404, 404)).run(ctx)
    assert result.success


async def test_keyword_in_body_passes(target: HttpTarget, build: Build, ctx: ProbeContext) -> None:
    assert (await build(url=target.url("/page"), keyword="OPEN").run(ctx)).success


async def test_missing_keyword_fails(target: HttpTarget, build: Build, ctx: ProbeContext) -> None:
    result = await build(url=target.url("/page"), keyword="CLOSED").run(ctx)
    assert not result.success
    assert result.error == "keyword 'CLOSED' not found in the body"


async def test_unwanted_keyword_fails(target: HttpTarget, build: Build, ctx: ProbeContext) -> None:
    result = await build(url=target.url("/page"), keyword_absent="OPEN").run(ctx)
    assert not result.success
    assert result.error == "unwanted keyword 'OPEN' found in the body"


async def test_json_equals_passes_on_matching_value(
    target: HttpTarget, build: Build, ctx: ProbeContext
) -> None:
    probe = build(url=target.url("/json"), json_path="data.status", json_equals="up")
    assert (await probe.run(ctx)).success


async def test_json_equals_tells_actual_from_expected(
    target: HttpTarget, build: Build, ctx: ProbeContext
) -> None:
    probe = build(url=target.url("/json"), json_path="data.status", json_equals="down")
    result = await probe.run(ctx)
    assert not result.success
    assert result.error == "data.status is 'up', expected 'down'"


async def test_json_comparison_that_is_false_fails_with_both_values(
    target: HttpTarget, build: Build, ctx: ProbeContext
) -> None:
    probe = build(
        url=target.url("/json"), json_path="data.status", json_compare="==", json_value="down"
    )
    result = await probe.run(ctx)
    assert not result.success
    assert result.error == "data.status is 'up', expected == 'down'"


@pytest.mark.parametrize(
    "case", [("<", 10, True), ("<=", 3, True), (">", 5, False), (">=", 3, True), ("!=", 3, False)]
)
async def test_numeric_json_comparisons(
    target: HttpTarget, build: Build, ctx: ProbeContext, case: tuple[str, int, bool]
) -> None:
    compare, value, passes = case
    probe = build(
        url=target.url("/json"), json_path="data.lag", json_compare=compare, json_value=value
    )
    result = await probe.run(ctx)
    assert result.success is passes
    if not passes:
        assert result.error == f"data.lag is 3, expected {compare} {value}"


async def test_json_boolean_equals_only_a_boolean(
    target: HttpTarget, build: Build, ctx: ProbeContext
) -> None:
    url = target.url("/json")
    probe = build(url=url, json_path="data.open", json_compare="==", json_value=1)
    assert (await probe.run(ctx)).error == "data.open is true, expected == 1"
    probe = build(url=url, json_path="data.open", json_compare="==", json_value=True)
    assert (await probe.run(ctx)).success


async def test_ordering_a_string_against_a_number_fails_clearly(
    target: HttpTarget, build: Build, ctx: ProbeContext
) -> None:
    probe = build(url=target.url("/json"), json_path="data.status", json_compare="<", json_value=10)
    result = await probe.run(ctx)
    assert result.error == "data.status is 'up', not a number to compare < 10"


async def test_json_path_into_a_list(target: HttpTarget, build: Build, ctx: ProbeContext) -> None:
    probe = build(url=target.url("/json"), json_path="data.items[1].status", json_equals="stale")
    assert (await probe.run(ctx)).success


async def test_missing_json_path_fails(target: HttpTarget, build: Build, ctx: ProbeContext) -> None:
    result = await build(url=target.url("/json"), json_path="data.items[5].status").run(ctx)
    assert not result.success
    assert result.error == "JSON path data.items[5].status not found in the body"


async def test_json_path_on_a_non_json_body_fails(
    target: HttpTarget, build: Build, ctx: ProbeContext
) -> None:
    result = await build(url=target.url("/not-json"), json_path="data.status").run(ctx)
    assert not result.success
    assert result.error is not None
    assert result.error.startswith("body is not JSON (Expecting value at line 1 column 1)")


async def test_post_sends_its_headers_and_body(
    target: HttpTarget, build: Build, ctx: ProbeContext
) -> None:
    for path, expected in [("method", "POST"), ("body", "ping"), ("headers.x-api-key", "k")]:
        probe = build(
            url=target.url("/echo"),
            method="POST",
            headers={"X-Api-Key": "k"},
            body="ping",
            json_path=path,
            json_equals=expected,
        )
        result = await probe.run(ctx)
        assert result.success, result.error


async def test_head_request_reads_no_body(
    target: HttpTarget, build: Build, ctx: ProbeContext
) -> None:
    result = await build(url=target.url("/page"), method="HEAD").run(ctx)
    assert result.success
    assert sample(result, "probe_http_content_length") == 0


async def test_redirect_is_followed(target: HttpTarget, build: Build, ctx: ProbeContext) -> None:
    probe = build(url=target.url("/redirect"), json_path="data.status", json_equals="up")
    assert (await probe.run(ctx)).success


async def test_redirect_not_followed_is_judged_by_its_status(
    target: HttpTarget, build: Build, ctx: ProbeContext
) -> None:
    result = await build(url=target.url("/redirect"), follow_redirects=False).run(ctx)
    assert result.error == "status 302, expected 200-299"


async def test_slow_response_is_degraded_but_successful(
    target: HttpTarget, build: Build, ctx: ProbeContext
) -> None:
    result = await build(url=target.url("/slow"), slow_ms=100).run(ctx)
    assert result.success
    assert result.degraded
    assert result.error is not None
    assert "slower than slow_ms (100)" in result.error


async def test_response_within_slow_ms_is_not_degraded(
    target: HttpTarget, build: Build, ctx: ProbeContext
) -> None:
    result = await build(url=target.url("/json"), slow_ms=60_000).run(ctx)
    assert result.success
    assert not result.degraded


# --- Big bodies ------------------------------------------------------------------------


async def test_huge_body_is_read_only_up_to_max_body_bytes(
    target: HttpTarget, build: Build, ctx: ProbeContext
) -> None:
    async with asyncio.timeout(30):  # a probe that read all 50 MB would still pass, slowly
        result = await build(url=target.url("/huge"), max_body_bytes=100_000).run(ctx)
    assert result.success
    assert sample(result, "probe_http_content_length") == 100_000
    # The probe hung up: the server could not push the whole body into the socket.
    assert target.huge_sent < HUGE_BYTES


async def test_keyword_past_max_body_bytes_fails_saying_the_body_was_cut(
    target: HttpTarget, build: Build, ctx: ProbeContext
) -> None:
    result = await build(url=target.url("/huge"), keyword="needle").run(ctx)
    assert not result.success
    assert result.error == (
        "keyword 'needle' not found in the body (read only the first 1048576 bytes: max_body_bytes)"
    )


async def test_json_check_on_a_truncated_body_fails(
    target: HttpTarget, build: Build, ctx: ProbeContext
) -> None:
    probe = build(url=target.url("/huge"), json_path="data.status", max_body_bytes=1_000)
    result = await probe.run(ctx)
    assert not result.success
    assert result.error == (
        "body is longer than max_body_bytes (1000): cannot check JSON path data.status"
    )


# --- Transport failures ----------------------------------------------------------------


async def test_connection_refused_fails_with_the_redacted_url(
    build: Build, ctx: ProbeContext
) -> None:
    url = f"http://127.0.0.1:{closed_port()}/health?key=s3cret-key"
    result = await build(url=url).run(ctx)
    assert not result.success
    assert result.error is not None
    assert result.error.startswith("connection refused (GET http://127.0.0.1:")
    assert "key=***" in result.error
    assert "s3cret-key" not in result.error
    assert sample(result, "probe_http_status_code") == 0


class _NoSuchHost(aiohttp.abc.AbstractResolver):
    """A resolver that knows no name: resolving a real one would leave the loopback."""

    async def resolve(self, host: str, port: int = 0, family: int = 0) -> list[Any]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    async def close(self) -> None:
        return None


async def test_dns_failure_is_named(
    build: Build, http: httpx.AsyncClient, clock: ManualClock
) -> None:
    connector = aiohttp.TCPConnector(resolver=_NoSuchHost())
    async with aiohttp.ClientSession(connector=connector) as web:
        ctx = ProbeContext(clock=clock, timeout_s=5.0, http=http, web=web)
        result = await build(url="https://rpc.example.test/").run(ctx)
    assert result.error == (
        "DNS lookup failed: Name or service not known (GET https://rpc.example.test/)"
    )


async def test_no_answer_within_the_timeout_fails_as_a_timeout(
    target: HttpTarget, build: Build, ctx: ProbeContext
) -> None:
    ctx = dataclasses.replace(ctx, timeout_s=0.2)
    result = await build(url=target.url("/hang")).run(ctx)
    assert not result.success
    assert result.error is not None
    assert result.error.startswith("timed out (waiting for the response) after 0.2 s")
    await eventually(lambda: target.hanging == 0)


async def test_secret_header_values_never_reach_the_error(
    target: HttpTarget, build: Build, ctx: ProbeContext
) -> None:
    headers = {"Authorization": "Bearer s3cret-token", "X-Api-Key": "s3cret-key"}
    for url in (target.url("/status/503"), f"http://127.0.0.1:{closed_port()}/"):
        result = await build(url=url, headers=headers).run(ctx)
        assert result.error is not None
        assert "s3cret" not in result.error


# --- Cancellation (how the scheduler enforces timeouts) --------------------------------


@pytest.mark.parametrize("own_session", [False, True], ids=["shared-session", "own-session"])
async def test_cancelled_check_closes_its_connection(
    target: HttpTarget, build: Build, ctx: ProbeContext, own_session: bool
) -> None:
    if own_session:
        ctx = dataclasses.replace(ctx, web=None)
    probe = build(url=target.url("/hang"))
    task = asyncio.create_task(probe.run(ctx))
    await eventually(lambda: target.hanging == 1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await eventually(lambda: target.hanging == 0)
    # The client is not left with a broken connection: the next check works.
    follow_up = build(url=target.url("/json"))
    assert (await follow_up.run(ctx)).success


async def test_check_under_a_timeout_is_cancelled_cleanly(
    target: HttpTarget, build: Build, ctx: ProbeContext
) -> None:
    probe = build(url=target.url("/hang"))
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.5):
            await probe.run(ctx)
    assert asyncio.all_tasks() == {asyncio.current_task()}
    await eventually(lambda: target.hanging == 0)


# --- TLS -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> Path:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


@pytest.fixture
def now() -> datetime:
    """Return the real present, whole seconds: OpenSSL checks certificates against it."""
    return datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def tls_ctx(ctx: ProbeContext, now: datetime) -> ProbeContext:
    """Return a context whose manual clock starts at the real present."""
    return dataclasses.replace(ctx, clock=ManualClock(start=now.timestamp()))


@pytest.fixture
def https_target(ca: trustme.CA) -> Iterator[Callable[[datetime], HttpTarget]]:
    """Return a factory of HTTPS servers whose certificates expire at a given time."""
    started: list[HttpTarget] = []

    def _start(not_after: datetime) -> HttpTarget:
        server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1", not_after=not_after).configure_cert(server_context)
        server = HttpTarget(tls=server_context)
        server.start()
        started.append(server)
        return server

    yield _start
    for server in started:
        server.stop()


async def test_https_with_ca_file_passes_and_reports_the_expiry(
    https_target: Callable[[datetime], HttpTarget],
    build: Build,
    tls_ctx: ProbeContext,
    ca_file: Path,
    now: datetime,
) -> None:
    not_after = now + timedelta(days=90)
    server = https_target(not_after)
    result = await build(url=server.url("/json"), ca_file=ca_file).run(tls_ctx)
    assert result.success, result.error
    assert not result.degraded
    assert sample(result, "probe_http_ssl") == 1
    assert sample(result, "probe_ssl_earliest_cert_expiry") == pytest.approx(
        not_after.timestamp(), abs=1
    )


async def test_https_with_an_untrusted_ca_fails_verification(
    https_target: Callable[[datetime], HttpTarget],
    build: Build,
    tls_ctx: ProbeContext,
    now: datetime,
) -> None:
    server = https_target(now + timedelta(days=90))
    result = await build(url=server.url("/json")).run(tls_ctx)  # the shared client
    assert not result.success
    assert result.error is not None
    assert result.error.startswith("TLS certificate verification failed: ")


async def test_certificate_expiring_within_warn_days_is_degraded(
    https_target: Callable[[datetime], HttpTarget],
    build: Build,
    tls_ctx: ProbeContext,
    ca_file: Path,
    now: datetime,
) -> None:
    server = https_target(now + timedelta(days=3))
    result = await build(url=server.url("/json"), ca_file=ca_file).run(tls_ctx)
    assert result.success
    assert result.degraded
    assert result.error is not None
    assert result.error.startswith("TLS certificate expires in 3.0 days")
    assert "within cert_expiry_warn_days (14)" in result.error


async def test_certificate_expiry_is_judged_by_the_injected_clock(
    https_target: Callable[[datetime], HttpTarget],
    build: Build,
    tls_ctx: ProbeContext,
    ca_file: Path,
    now: datetime,
) -> None:
    server = https_target(now + timedelta(days=3))
    probe = build(url=server.url("/json"), ca_file=ca_file)
    assert isinstance(tls_ctx.clock, ManualClock)
    tls_ctx.clock.advance(4 * 86_400)
    result = await probe.run(tls_ctx)
    assert not result.success
    assert result.error is not None
    assert result.error.startswith("TLS certificate expired 1.0 days ago")


async def test_expired_certificate_fails_the_handshake_when_verifying(
    https_target: Callable[[datetime], HttpTarget],
    build: Build,
    tls_ctx: ProbeContext,
    ca_file: Path,
    now: datetime,
) -> None:
    server = https_target(now - timedelta(days=2))
    result = await build(url=server.url("/json"), ca_file=ca_file).run(tls_ctx)
    assert not result.success
    assert result.error is not None
    assert result.error.startswith("TLS certificate expired (verification failed)")


async def test_expired_certificate_fails_on_its_days_without_verifying(
    https_target: Callable[[datetime], HttpTarget],
    build: Build,
    tls_ctx: ProbeContext,
    now: datetime,
) -> None:
    server = https_target(now - timedelta(days=2))
    result = await build(url=server.url("/json"), verify_tls=False).run(tls_ctx)
    assert not result.success
    assert result.error is not None
    assert result.error.startswith("TLS certificate expired 2.0 days ago")
    assert sample(result, "probe_ssl_earliest_cert_expiry") == pytest.approx(
        (now - timedelta(days=2)).timestamp(), abs=1
    )


async def test_unreadable_ca_file_fails_the_check(
    target: HttpTarget, build: Build, ctx: ProbeContext, tmp_path: Path
) -> None:
    result = await build(url=target.url("/json"), ca_file=tmp_path / "missing.pem").run(ctx)
    assert not result.success
    assert result.error is not None
    assert result.error.startswith("cannot load ca_file")
