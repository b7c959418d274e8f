"""The exchange monitor kind: a real ccxt client against a local Binance on 127.0.0.1.

Every URL of ccxt's binance is pointed at the local server, and any attempt to resolve a
host name other than the loopback fails the test: nothing leaves the machine.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import socket
import warnings
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from probes._exchange_server import API_KEY, SECRET, ExchangeServer
from probes._targets import closed_port
from support.eventually import eventually
from tradewarden.clock import ManualClock
from tradewarden.probes import ProbeContext, ProbeResult
from tradewarden.probes.kinds.exchange import ExchangeSpec, reachability_method

Build = Callable[..., Any]

# Binance loads spot markets only, from one exchangeInfo request: no futures, no margin
# pairs, no currencies list (those call fapi, dapi and signed sapi endpoints).
SMALL_OPTIONS: dict[str, Any] = {
    "fetchMarkets": {"types": ["spot"]},
    "fetchCurrencies": False,
    "fetchMargins": False,
}
KEY_ENV = "TW_TEST_EXCHANGE_KEY"
SECRET_ENV = "TW_TEST_EXCHANGE_SECRET"
LOOPBACK_NAMES = {"127.0.0.1", "localhost"}


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Fail any lookup of a host that is not this machine (aiohttp resolves through here)."""
    real = socket.getaddrinfo
    refused: list[str] = []

    def guarded(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name not in LOOPBACK_NAMES:
            refused.append(name)
            raise socket.gaierror(socket.EAI_NONAME, f"test refuses to resolve {name}")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)
    yield refused
    assert refused == [], f"the client tried to reach {refused}"


@pytest.fixture
def server() -> Iterator[ExchangeServer]:
    with ExchangeServer() as exchange:
        yield exchange


@pytest.fixture
def credentials(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv(KEY_ENV, API_KEY)
    monkeypatch.setenv(SECRET_ENV, SECRET)
    return {"api_key_env": KEY_ENV, "secret_env": SECRET_ENV}


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(trust_env=False) as client:
        yield client


@pytest.fixture
def ctx(http: httpx.AsyncClient, clock: ManualClock) -> ProbeContext:
    return ProbeContext(clock=clock, timeout_s=5.0, http=http)


@pytest.fixture
def quick_ctx(http: httpx.AsyncClient, clock: ManualClock) -> ProbeContext:
    """Return a context with a short time budget, for checks that hang."""
    return ProbeContext(clock=clock, timeout_s=0.3, http=http)


@pytest.fixture
async def build(server: ExchangeServer) -> AsyncIterator[Build]:
    """Return a factory of probes on the local server; close their clients after."""
    built: list[Any] = []

    def _build(**fields: Any) -> Any:
        fields.setdefault("urls", server.api_urls())
        fields.setdefault("options", SMALL_OPTIONS)
        probe = ExchangeSpec(name="exchange", exchange="binance", **fields).build()
        built.append(probe)
        return probe

    yield _build
    for probe in built:
        await probe.aclose()


def sample(result: ProbeResult, name: str, **labels: str) -> float:
    (value,) = [
        s.value
        for s in result.samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    ]
    return value


def everything_said(result: ProbeResult) -> str:
    """Return every piece of text a result carries: where a secret must never be."""
    parts = [result.error or ""]
    for s in result.samples:
        parts += [s.name, s.help, repr(s.value), *s.labels.keys(), *s.labels.values()]
    return "\n".join(parts)


# --- Spec validation -------------------------------------------------------------------


def test_spec_needs_no_credentials_for_public_checks() -> None:
    spec = ExchangeSpec(name="binance", exchange="binance")
    assert spec.kind == "exchange"
    assert spec.resolve_credentials() is None
    assert not spec.sandbox
    assert spec.balances == ()


def test_unknown_exchange_id_is_refused_with_a_suggestion() -> None:
    with pytest.raises(ValidationError) as caught:
        ExchangeSpec(name="x", exchange="binanse")
    (error,) = caught.value.errors()
    assert error["loc"] == ("exchange",)
    assert "did you mean binance" in error["msg"]


@pytest.mark.parametrize(
    ("field", "alternative"),
    [
        ("api_key", "api_key_env"),
        ("apiKey", "api_key_env"),
        ("secret", "secret_env"),
        ("password", "password_env"),
        ("passphrase", "password_env"),
    ],
)
def test_inline_credentials_are_refused_naming_the_field(field: str, alternative: str) -> None:
    with pytest.raises(ValidationError) as caught:
        ExchangeSpec.model_validate(
            {"name": "x", "exchange": "binance", field: "sk-live-Very-Secret-123"}
        )
    text = str(caught.value)
    assert f"{field}: credentials are never written inline" in text
    assert alternative in text
    assert "sk-live-Very-Secret-123" not in text


def test_validation_errors_never_echo_input() -> None:
    with pytest.raises(ValidationError) as caught:
        ExchangeSpec.model_validate(
            {"name": "x", "exchange": "binance", "api_key_env": "not a name Secret-987"}
        )
    assert caught.value.errors()[0]["loc"] == ("api_key_env",)
    assert "Secret-987" not in str(caught.value)


def test_a_credential_from_both_env_and_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="at most one of secret_env, secret_file"):
        ExchangeSpec(
            name="x",
            exchange="binance",
            api_key_env=KEY_ENV,
            secret_env=SECRET_ENV,
            secret_file=tmp_path / "secret",
        )


def test_credentials_the_exchange_requires_must_all_be_configured() -> None:
    with pytest.raises(ValidationError, match="binance needs secret"):
        ExchangeSpec(name="x", exchange="binance", api_key_env=KEY_ENV)
    # OKX signs with a passphrase too.
    with pytest.raises(ValidationError, match="okx needs password"):
        ExchangeSpec(name="x", exchange="okx", api_key_env=KEY_ENV, secret_env=SECRET_ENV)
    spec = ExchangeSpec(name="x", exchange="okx", api_key_env="K", secret_env="S", password_env="P")
    assert spec.password_env == "P"


def test_balances_need_credentials() -> None:
    with pytest.raises(ValidationError, match="balances need credentials"):
        ExchangeSpec(name="x", exchange="binance", balances=[{"asset": "USDT", "min_free": 1}])


def test_an_asset_listed_twice_is_refused() -> None:
    with pytest.raises(ValidationError, match="more than once: USDT"):
        ExchangeSpec(
            name="x",
            exchange="binance",
            api_key_env=KEY_ENV,
            secret_env=SECRET_ENV,
            balances=[{"asset": "USDT", "min_free": 1}, {"asset": "USDT", "min_free": 2}],
        )


def test_sandbox_needs_an_exchange_with_one() -> None:
    assert ExchangeSpec(name="x", exchange="binance", sandbox=True).sandbox
    with pytest.raises(ValidationError, match="bitfinex has no sandbox"):
        ExchangeSpec(name="x", exchange="bitfinex", sandbox=True)


def test_urls_must_name_entries_the_exchange_has() -> None:
    with pytest.raises(ValidationError, match="no API URL named pubilc") as caught:
        ExchangeSpec(name="x", exchange="binance", urls={"pubilc": "http://127.0.0.1:1/api/v3"})
    assert "sapi" in str(caught.value)  # the message lists what there is
    # The testnet has no sapi: with sandbox on, the names are those of the testnet.
    with pytest.raises(ValidationError, match="no API URL named sapi"):
        ExchangeSpec(name="x", exchange="binance", sandbox=True, urls={"sapi": "http://h/x"})


def test_urls_must_be_http_urls() -> None:
    with pytest.raises(ValidationError, match="public must be an http"):
        ExchangeSpec(name="x", exchange="binance", urls={"public": "ftp://127.0.0.1/api"})


def test_nested_urls_are_named_with_dots() -> None:
    spec = ExchangeSpec(name="x", exchange="mexc", urls={"spot.public": "http://127.0.0.1:1/x"})
    assert spec.urls == {"spot.public": "http://127.0.0.1:1/x"}


def test_reachability_uses_the_cheapest_call_the_exchange_has() -> None:
    assert reachability_method({"fetchTime": True, "fetchStatus": True}) == "fetch_time"
    assert reachability_method({"fetchTime": False, "fetchStatus": True}) == "fetch_status"
    assert reachability_method({"fetchTime": None, "fetchStatus": None}) == "fetch_markets"


# --- Against the local exchange --------------------------------------------------------


def test_the_test_urls_cover_every_api_url_of_ccxt_binance(server: ExchangeServer) -> None:
    import ccxt.async_support as ccxt_async  # type: ignore[import-untyped]

    urls = server.api_urls()
    assert set(urls) == set(ccxt_async.binance().urls["api"])
    assert all(url.startswith(server.base_url + "/") for url in urls.values())


async def test_reachable_exchange_is_up_with_its_latency(
    build: Build, ctx: ProbeContext, server: ExchangeServer
) -> None:
    result = await build().run(ctx)
    assert result.success, result.error
    assert not result.degraded
    assert result.error is None
    assert sample(result, "exchange_up", exchange="binance") == 1.0
    assert sample(result, "exchange_latency_seconds", method="fetch_time") >= 0.0
    assert server.paths() == ["/api/v3/time"]  # public only: no markets, no account


async def test_the_client_is_kept_between_checks(build: Build, ctx: ProbeContext) -> None:
    probe = build()
    await probe.run(ctx)
    client = probe._client
    assert (await probe.run(ctx)).success
    assert probe._client is client
    assert client.enableRateLimit is True
    assert client.timeout == 5000


async def test_balances_above_their_thresholds_succeed(
    build: Build, ctx: ProbeContext, server: ExchangeServer, credentials: dict[str, str]
) -> None:
    probe = build(
        **credentials,
        balances=[{"asset": "USDT", "min_free": 10}, {"asset": "BTC", "min_free": 0.001}],
    )
    result = await probe.run(ctx)
    assert result.success, result.error
    assert not result.degraded
    assert sample(result, "exchange_balance", asset="USDT") == 12.5
    assert sample(result, "exchange_balance_held", asset="USDT") == 12.5
    assert sample(result, "exchange_balance", asset="BTC") == 0.002
    assert sample(result, "exchange_balance_held", asset="BTC") == pytest.approx(0.003)
    assert sample(result, "exchange_latency_seconds", method="fetch_balance") >= 0.0
    assert server.unknown == []
    (account,) = [request for request in server.requests if request.path == "/api/v3/account"]
    assert account.headers["x-mbx-apikey"] == API_KEY
    assert {"timestamp", "signature"} <= account.query.keys()
    # Markets are loaded once per client, not on every check.
    await probe.run(ctx)
    assert server.paths().count("/api/v3/exchangeInfo") == 1


async def test_a_balance_below_its_threshold_degrades_naming_asset_and_amount(
    build: Build, ctx: ProbeContext, server: ExchangeServer, credentials: dict[str, str]
) -> None:
    server.balances["USDT"] = ("4.25", "100")
    probe = build(**credentials, balances=[{"asset": "USDT", "min_free": 10}])
    result = await probe.run(ctx)
    assert result.success
    assert result.degraded
    assert result.error == "binance: USDT free 4.25 below min_free 10"
    assert sample(result, "exchange_balance", asset="USDT") == 4.25
    assert sample(result, "exchange_balance_held", asset="USDT") == 104.25


async def test_an_asset_the_account_lacks_counts_as_zero(
    build: Build, ctx: ProbeContext, credentials: dict[str, str]
) -> None:
    result = await build(**credentials, balances=[{"asset": "SOL", "min_free": 1}]).run(ctx)
    assert result.degraded
    assert result.error == "binance: SOL free 0 below min_free 1"
    assert sample(result, "exchange_balance", asset="SOL") == 0.0


async def test_credentials_without_balances_still_prove_the_key_works(
    build: Build, ctx: ProbeContext, server: ExchangeServer, credentials: dict[str, str]
) -> None:
    result = await build(**credentials).run(ctx)
    assert result.success, result.error
    assert "/api/v3/account" in server.paths()
    assert not [s for s in result.samples if s.name.startswith("exchange_balance")]


async def test_credentials_from_files_are_reread_on_every_check(
    build: Build, ctx: ProbeContext, server: ExchangeServer, tmp_path: Path
) -> None:
    key_file, secret_file = tmp_path / "key", tmp_path / "secret"
    key_file.write_text("an-old-key\n")
    secret_file.write_text(SECRET + "\n")
    probe = build(api_key_file=key_file, secret_file=secret_file)
    first = await probe.run(ctx)
    assert not first.success
    assert "authentication failed" in (first.error or "")
    key_file.write_text(API_KEY + "\n")  # rotated: no restart needed
    second = await probe.run(ctx)
    assert second.success, second.error


async def test_wrong_key_fails_as_authentication_without_showing_credentials(
    build: Build, ctx: ProbeContext, server: ExchangeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, "wrong-key-Ab12Cd34")
    monkeypatch.setenv(SECRET_ENV, SECRET)
    probe = build(api_key_env=KEY_ENV, secret_env=SECRET_ENV)
    result = await probe.run(ctx)
    assert not result.success
    assert result.error is not None
    assert result.error.startswith("binance fetch_balance: authentication failed")
    assert "Invalid API-key" in result.error
    assert sample(result, "exchange_up") == 1.0  # the exchange is up; the key is not
    said = everything_said(result)
    assert "wrong-key-Ab12Cd34" not in said
    assert SECRET not in said


async def test_wrong_secret_fails_as_authentication(
    build: Build, ctx: ProbeContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, API_KEY)
    monkeypatch.setenv(SECRET_ENV, "wrong-secret-Qw98")
    result = await build(api_key_env=KEY_ENV, secret_env=SECRET_ENV).run(ctx)
    assert not result.success
    assert "authentication failed" in (result.error or "")
    assert "Signature for this request is not valid" in (result.error or "")
    said = everything_said(result)
    assert API_KEY not in said
    assert "wrong-secret-Qw98" not in said


async def test_a_key_revoked_after_a_good_check_still_reads_as_authentication(
    build: Build, ctx: ProbeContext, server: ExchangeServer, credentials: dict[str, str]
) -> None:
    probe = build(**credentials)
    assert (await probe.run(ctx)).success
    server.api_key = "someone-revoked-it"
    result = await probe.run(ctx)
    assert not result.success
    # ccxt alone would call this a DDoS ban once a signed call has passed.
    assert "authentication failed" in (result.error or "")


async def test_a_missing_credential_variable_fails_naming_it(
    build: Build, ctx: ProbeContext, monkeypatch: pytest.MonkeyPatch, server: ExchangeServer
) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    monkeypatch.setenv(SECRET_ENV, SECRET)
    result = await build(api_key_env=KEY_ENV, secret_env=SECRET_ENV).run(ctx)
    assert not result.success
    assert result.error == f"binance: environment variable {KEY_ENV} (api_key_env) is not set"
    assert sample(result, "exchange_up") == 0.0
    assert server.requests == []


async def test_server_down_fails_as_connection_refused(
    server: ExchangeServer, ctx: ProbeContext
) -> None:
    base = f"http://127.0.0.1:{closed_port()}"
    urls = {name: url.replace(server.base_url, base) for name, url in server.api_urls().items()}
    probe = ExchangeSpec(name="x", exchange="binance", urls=urls).build()
    try:
        result = await probe.run(ctx)
    finally:
        await probe.aclose()  # type: ignore[attr-defined]
    assert not result.success
    assert result.error == "binance fetch_time: exchange not available: connection refused"
    assert sample(result, "exchange_up") == 0.0


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ("500", "binance fetch_time: exchange not available: GET http://127.0.0.1:"),
        ("429", "binance fetch_time: rate limited or banned (DDoS protection): retry after 37 s"),
        ("418", "binance fetch_time: rate limited or banned (DDoS protection): retry after 37 s"),
        ("garbage", "binance fetch_time: unexpected response: no server time in the reply"),
    ],
)
async def test_public_failures_are_named(
    build: Build, ctx: ProbeContext, server: ExchangeServer, fault: Any, expected: str
) -> None:
    server.fault("/api/v3/time", fault)
    result = await build().run(ctx)
    assert not result.success
    assert (result.error or "").startswith(expected), result.error
    assert sample(result, "exchange_up") == 0.0


@pytest.mark.parametrize("fault", ["500", "429", "418", "garbage", "hang"])
async def test_credentials_never_show_in_a_failure(
    build: Build,
    server: ExchangeServer,
    credentials: dict[str, str],
    quick_ctx: ProbeContext,
    fault: Any,
) -> None:
    server.fault("/api/v3/account", fault)
    probe = build(**credentials, balances=[{"asset": "USDT", "min_free": 1}])
    result = await probe.run(quick_ctx)
    assert not result.success
    assert (result.error or "").startswith("binance fetch_balance: ")
    said = everything_said(result)
    assert API_KEY not in said
    assert SECRET not in said
    assert "signature=" not in said


async def test_maintenance_reported_by_fetch_status_fails(
    build: Build, ctx: ProbeContext, server: ExchangeServer
) -> None:
    probe = build()
    client = probe._get_client()
    # Stand in for the exchanges ccxt knows no fetchTime for.
    client.has = {**client.has, "fetchTime": False}
    healthy = await probe.run(ctx)
    assert healthy.success, healthy.error
    assert sample(healthy, "exchange_latency_seconds", method="fetch_status") >= 0.0
    server.maintenance = True
    result = await probe.run(ctx)
    assert not result.success
    assert result.error == "binance fetch_status: exchange reports status maintenance"
    assert sample(result, "exchange_up") == 0.0
    assert server.paths() == ["/sapi/v1/system/status"] * 2


async def test_a_slow_answer_degrades(build: Build, ctx: ProbeContext) -> None:
    result = await build(slow_ms=1e-6).run(ctx)
    assert result.success
    assert result.degraded
    assert "fetch_time took" in (result.error or "")
    assert "slower than slow_ms (1e-06)" in (result.error or "")


async def test_sandbox_with_urls_overridden_talks_to_the_local_testnet(
    ctx: ProbeContext, server: ExchangeServer
) -> None:
    urls = server.api_urls("test")
    probe = ExchangeSpec(name="x", exchange="binance", sandbox=True, urls=urls).build()
    try:
        result = await probe.run(ctx)
        assert probe._client.isSandboxModeEnabled  # type: ignore[attr-defined]
    finally:
        await probe.aclose()  # type: ignore[attr-defined]
    assert result.success, result.error
    assert server.paths() == ["/api/v3/time"]


async def test_a_hanging_exchange_times_out_and_frees_the_connection(
    build: Build, server: ExchangeServer, quick_ctx: ProbeContext
) -> None:
    server.fault("/api/v3/time", "hang")
    result = await build().run(quick_ctx)
    assert not result.success
    assert "timed out" in (result.error or "")
    assert (result.error or "").startswith("binance fetch_time: ")
    await eventually(lambda: server.hanging == 0)


async def test_cancelled_check_leaves_nothing_stuck_and_the_client_closes_cleanly(
    server: ExchangeServer, ctx: ProbeContext, caplog: pytest.LogCaptureFixture
) -> None:
    server.fault("/api/v3/time", "hang")
    probe: Any = ExchangeSpec(
        name="x", exchange="binance", urls=server.api_urls(), options=SMALL_OPTIONS
    ).build()
    task = asyncio.create_task(probe.run(ctx))
    await eventually(lambda: server.hanging == 1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await eventually(lambda: server.hanging == 0)

    server.fault("/api/v3/time", None)
    assert (await probe.run(ctx)).success  # the kept client survived the cancellation

    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.WARNING):
        warnings.simplefilter("always")
        await probe.aclose()
        await probe.aclose()  # closing twice is harmless
        del probe, task
        gc.collect()
    assert [str(w.message) for w in caught] == []
    assert "release all resources" not in caplog.text
    assert "Unclosed" not in caplog.text


async def test_a_check_after_aclose_makes_a_new_client(build: Build, ctx: ProbeContext) -> None:
    probe = build()
    assert (await probe.run(ctx)).success
    await probe.aclose()
    assert (await probe.run(ctx)).success
