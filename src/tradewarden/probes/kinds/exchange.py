"""A crypto exchange through ccxt: is its API up and fast, is the account's money there?

One check is what an operator would try by hand with ccxt::

    await exchange.fetch_time()      # or fetch_status(), or fetch_markets(): see below
    await exchange.fetch_balance()   # only with credentials configured

Reachability uses the cheapest public call the exchange has: ``fetchTime``, else
``fetchStatus`` (a reported status other than ``ok`` fails the check), else
``fetchMarkets``, which downloads every market: give those exchanges a long interval.
With credentials, ``fetch_balance()`` also runs, which proves the key still works; each
``balances`` entry whose free amount is below its ``min_free`` makes the monitor DEGRADED.
ccxt loads the markets before the first balance; the client is kept between checks, so
that happens once per probe.

Credentials never sit in the config: each comes from an environment variable (``*_env``)
or a file (``*_file``), is read again on every check (a rotated key is picked up without a
restart), and never appears in an error or a sample. A read-only key is enough.

``urls`` replaces entries of the ccxt client's ``urls["api"]`` (after ``sandbox`` has
swapped in the testnet URLs): a reverse proxy in front of the exchange, or a local fake in
tests. Keys are the exchange's own names (``public``, ``private``, ``sapi``, ... for
Binance; a dotted name reaches a nested entry, ``spot.public``); entries not named keep
ccxt's default, so point every entry elsewhere when no request may reach the real
exchange. ``options`` is merged into the client's ccxt ``options``: for Binance,
``{"fetchMarkets": {"types": ["spot"]}, "fetchCurrencies": false, "fetchMargins": false}``
keeps market loading to one spot ``exchangeInfo`` request, and ``{"defaultType": "swap"}``
checks the futures wallet instead of spot. ccxt ignores ``HTTP(S)_PROXY`` here.
"""

from __future__ import annotations

import asyncio
import copy
import difflib
import functools
import os
import re
import socket
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, Self
from urllib.parse import quote, urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    field_validator,
    model_validator,
)

from tradewarden.probes._model import Probe, ProbeContext, ProbeResult, Sample
from tradewarden.probes._spec import MonitorSpec
from tradewarden.telemetry._redact import MASK, redact_text

__all__ = ["BalanceThreshold", "ExchangeSpec"]

_EnvName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=200)]
_Asset = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")]

# The credentials this kind can supply, by ccxt attribute, and the spec fields for each.
_CREDENTIALS = {"apiKey": "api_key", "secret": "secret", "password": "password"}
# What someone may write when they try to put a credential inline.
_INLINE_NAMES = {
    "api_key": "api_key",
    "apikey": "api_key",
    "key": "api_key",
    "secret": "secret",
    "api_secret": "secret",
    "secret_key": "secret",
    "secretkey": "secret",
    "password": "password",
    "passphrase": "password",
}
_DETAIL_MAX_CHARS = 240


def _ccxt() -> Any:
    """Return ``ccxt.async_support``: imported on first use, it takes about a second."""
    import ccxt.async_support as ccxt_async  # type: ignore[import-untyped]

    return ccxt_async


@dataclass(frozen=True, slots=True)
class _Facts:
    """What ccxt says about one exchange, as far as validating a spec needs."""

    api_urls: frozenset[str]
    test_urls: frozenset[str] | None  # None: no sandbox
    required_credentials: frozenset[str]


def _url_names(urls: object, prefix: str = "") -> Iterator[str]:
    """Yield the dotted names of the URL strings in a ccxt ``urls["api"]`` value."""
    if isinstance(urls, Mapping):
        for name, value in urls.items():
            yield from _url_names(value, f"{prefix}{name}.")
    elif isinstance(urls, str) and prefix:
        yield prefix.removesuffix(".")


@functools.cache
def _facts(exchange_id: str) -> _Facts:
    # A client that is never used opens no session: nothing to close.
    client = getattr(_ccxt(), exchange_id)()
    test = client.urls.get("test")
    required = {name for name, needed in client.requiredCredentials.items() if needed}
    return _Facts(
        api_urls=frozenset(_url_names(client.urls.get("api"))),
        test_urls=frozenset(_url_names(test)) if test else None,
        required_credentials=frozenset(required),
    )


class BalanceThreshold(BaseModel):
    """An asset (ccxt's unified code, e.g. ``USDT``) and the free amount it must keep."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    asset: _Asset
    min_free: float = Field(ge=0)


@dataclass(frozen=True, slots=True)
class _Credentials:
    api_key: str | None = field(default=None, repr=False)
    secret: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)

    def secrets(self) -> tuple[str, ...]:
        """Return the values to mask, longest first, also as they look URL-encoded."""
        found = {value for value in (self.api_key, self.secret, self.password) if value}
        found |= {quote(value, safe="") for value in found}
        return tuple(sorted(found, key=len, reverse=True))


class ExchangeSpec(MonitorSpec):
    """Check an exchange's API through ccxt, and the account's balances with credentials."""

    # Validation errors never echo input: a credential typed inline must not come back.
    model_config = ConfigDict(hide_input_in_errors=True)

    kind: Literal["exchange"] = "exchange"
    exchange: str = Field(description="A ccxt exchange id, e.g. binance, kraken, okx.")
    api_key_env: _EnvName | None = None
    api_key_file: Path | None = None
    secret_env: _EnvName | None = None
    secret_file: Path | None = None
    password_env: _EnvName | None = None
    password_file: Path | None = None
    sandbox: bool = False
    urls: dict[str, str] | None = Field(default=None, max_length=100)
    options: dict[str, JsonValue] = Field(default_factory=dict)
    balances: tuple[BalanceThreshold, ...] = Field(default=(), max_length=100)
    slow_ms: float | None = Field(default=None, gt=0)

    @model_validator(mode="before")
    @classmethod
    def _no_inline_credentials(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            for name in data:
                base = _INLINE_NAMES.get(str(name).lower())
                if base is not None:
                    raise ValueError(
                        f"{name}: credentials are never written inline; "
                        f"set {base}_env or {base}_file"
                    )
        return data

    @field_validator("exchange")
    @classmethod
    def _known_exchange(cls, exchange: str) -> str:
        known: list[str] = list(_ccxt().exchanges)
        if exchange not in known:
            close = difflib.get_close_matches(exchange.lower(), known, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise ValueError(f"unknown ccxt exchange id{hint}; see ccxt.exchanges")
        return exchange

    @field_validator("balances")
    @classmethod
    def _assets_unique(cls, balances: tuple[BalanceThreshold, ...]) -> tuple[BalanceThreshold, ...]:
        assets = [balance.asset for balance in balances]
        repeated = sorted({asset for asset in assets if assets.count(asset) > 1})
        if repeated:
            raise ValueError(f"asset listed more than once: {', '.join(repeated)}")
        return balances

    @field_validator("urls")
    @classmethod
    def _urls_are_http(cls, urls: dict[str, str] | None) -> dict[str, str] | None:
        for name, url in (urls or {}).items():
            parts = urlsplit(url)
            if parts.scheme not in {"http", "https"} or not parts.hostname:
                raise ValueError(f"{name} must be an http:// or https:// URL")
        return urls

    @model_validator(mode="after")
    def _consistent_with_the_exchange(self) -> Self:
        for base in _CREDENTIALS.values():
            if getattr(self, f"{base}_env") and getattr(self, f"{base}_file"):
                raise ValueError(f"set at most one of {base}_env, {base}_file")
        facts = _facts(self.exchange)
        configured = self._configured_credentials()
        if configured:
            missing = [
                _CREDENTIALS[name]
                for name in sorted(facts.required_credentials & _CREDENTIALS.keys())
                if _CREDENTIALS[name] not in configured
            ]
            if missing:
                wanted = ", ".join(f"{base}_env or {base}_file" for base in missing)
                raise ValueError(f"{self.exchange} needs {' and '.join(missing)}: set {wanted}")
            unsupported = sorted(facts.required_credentials - _CREDENTIALS.keys())
            if unsupported:
                raise ValueError(
                    f"{self.exchange} needs credentials this kind cannot supply "
                    f"({', '.join(unsupported)}); only public checks can run"
                )
        if self.balances and not configured:
            needed = [
                _CREDENTIALS[name]
                for name in sorted(facts.required_credentials & _CREDENTIALS.keys())
            ] or ["api_key"]
            wanted = " and ".join(f"{base}_env or {base}_file" for base in needed)
            raise ValueError(f"balances need credentials: set {wanted}")
        if self.sandbox and facts.test_urls is None:
            raise ValueError(f"sandbox: {self.exchange} has no sandbox in ccxt")
        if self.urls:
            names = facts.test_urls if self.sandbox and facts.test_urls else facts.api_urls
            unknown = sorted(set(self.urls) - names)
            if unknown:
                raise ValueError(
                    f"urls: {self.exchange} has no API URL named {', '.join(unknown)} "
                    f"(it has {', '.join(sorted(names))})"
                )
        return self

    def _configured_credentials(self) -> set[str]:
        return {
            base
            for base in _CREDENTIALS.values()
            if getattr(self, f"{base}_env") or getattr(self, f"{base}_file")
        }

    def resolve_credentials(self) -> _Credentials | None:
        """Return the credentials from where they are configured, None without any.

        Raise ValueError saying which source is wrong, never quoting a value.
        """
        if not self._configured_credentials():
            return None
        values = {base: self._resolve(base) for base in _CREDENTIALS.values()}
        return _Credentials(**values)

    def _resolve(self, base: str) -> str | None:
        env: str | None = getattr(self, f"{base}_env")
        path: Path | None = getattr(self, f"{base}_file")
        if env is not None:
            value = os.environ.get(env, "").strip()
            if not value:
                raise ValueError(f"environment variable {env} ({base}_env) is not set")
            return value
        if path is not None:
            try:
                value = path.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ValueError(
                    f"{base}_file {path}: cannot read: {exc.strerror or exc}"
                ) from None
            if not value:
                raise ValueError(f"{base}_file {path} is empty")
            return value
        return None

    def build(self) -> Probe:
        return _ExchangeProbe(self)


# --- Errors ----------------------------------------------------------------------------


def _categories() -> tuple[tuple[type[BaseException], str], ...]:
    """Return ccxt's exception classes, most specific first, each with what it means."""
    errors = _ccxt()
    return (
        (errors.OnMaintenance, "exchange under maintenance"),
        (errors.AccountSuspended, "authentication failed: account suspended"),
        (errors.PermissionDenied, "authentication failed: permission denied"),
        (errors.AuthenticationError, "authentication failed"),
        (errors.RateLimitExceeded, "rate limit exceeded"),
        (errors.DDoSProtection, "rate limited or banned (DDoS protection)"),
        (errors.RequestTimeout, "request timed out"),
        (errors.InvalidNonce, "nonce or timestamp rejected (is this host's clock right?)"),
        (errors.ExchangeNotAvailable, "exchange not available"),
        (errors.NetworkError, "network error"),
        (errors.BadResponse, "bad response"),
        (errors.NotSupported, "not supported by ccxt for this exchange"),
        (errors.ExchangeError, "exchange error"),
        (errors.BaseError, "ccxt error"),
    )


_URL_QUERY_RE = re.compile(r"(?P<url>https?://[^\s?#]+)[?#][^\s]*")


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        os_error = getattr(current, "os_error", None)  # aiohttp's connector errors
        if isinstance(os_error, BaseException):
            yield os_error
        current = current.__cause__ or current.__context__


def _retry_after(headers: object) -> str | None:
    if isinstance(headers, Mapping):
        for name, value in headers.items():
            if str(name).lower() == "retry-after":
                return str(value)
    return None


class _BadReplyError(Exception):
    """The exchange answered, but not with what the call promises."""


def _describe(exc: Exception, exchange_id: str, timeout_s: float, headers: object) -> str:
    """Return a short, operator-facing account of why a ccxt call failed (not yet scrubbed)."""
    if isinstance(exc, _BadReplyError):
        return f"unexpected response: {exc}"
    errors = _ccxt()
    category = next((text for kind, text in _categories() if isinstance(exc, kind)), None)
    if category is None:  # ccxt passed garbage through and choked on it later
        return f"unexpected response: {type(exc).__name__}: {exc}"
    for cause in _causes(exc):
        if isinstance(cause, ConnectionRefusedError):
            return f"{category}: connection refused"
        if isinstance(cause, socket.gaierror):
            return f"{category}: DNS lookup failed: {cause.strerror or cause}"
    detail = str(exc).strip().removeprefix(exchange_id).strip()
    # Signed requests carry timestamp and signature in the query: noise at best.
    detail = _URL_QUERY_RE.sub(r"\g<url>", " ".join(detail.split()))
    if isinstance(exc, errors.RequestTimeout):
        detail = f"after {timeout_s:g} s ({detail})" if detail else f"after {timeout_s:g} s"
    throttled = isinstance(exc, errors.RateLimitExceeded | errors.DDoSProtection)
    retry_after = _retry_after(headers) if throttled else None
    if retry_after is not None:
        detail = f"retry after {retry_after} s; {detail}"
    if len(detail) > _DETAIL_MAX_CHARS:
        detail = detail[: _DETAIL_MAX_CHARS - 1] + "…"
    return f"{category}: {detail}" if detail else category


class _Scrubber:
    """Mask the configured credentials in any text, then every other credential pattern."""

    def __init__(self, credentials: _Credentials | None) -> None:
        self._secrets = credentials.secrets() if credentials is not None else ()

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        return redact_text(text)


# --- The probe -------------------------------------------------------------------------


def reachability_method(has: Mapping[str, Any]) -> str:
    """Return the ccxt method that checks reachability on an exchange with these ``has``."""
    if has.get("fetchTime"):
        return "fetch_time"
    if has.get("fetchStatus"):
        return "fetch_status"
    return "fetch_markets"


def _judge_reply(method: str, reply: Any) -> str | None:
    """Return what is wrong with the reply of the reachability call, or None."""
    if method == "fetch_status":
        status = reply.get("status") if isinstance(reply, Mapping) else None
        if status is None:
            return "unexpected response: no status in the reply"
        return None if status == "ok" else f"exchange reports status {status}"
    if method == "fetch_time":
        valid = isinstance(reply, int) and not isinstance(reply, bool) and reply > 0
        what = "server time"
    else:
        valid = isinstance(reply, list) and bool(reply)
        what = "markets"
    return None if valid else f"unexpected response: no {what} in the reply"


def _check_balance(balance: Any) -> None:
    """Raise _BadReplyError unless ``balance`` is a ccxt balance parsed from a real answer.

    ccxt parses a body that is no JSON into an empty balance, which would read as zero.
    """
    if not isinstance(balance, Mapping) or not isinstance(balance.get("info"), Mapping | list):
        raise _BadReplyError("the balance reply is not JSON")
    for part in ("free", "total"):
        if not isinstance(balance.get(part), Mapping):
            raise _BadReplyError(f"no {part} amounts in the balance reply")


def _amount(balance: Mapping[str, Any], part: str, asset: str) -> float:
    """Return ``balance[part][asset]`` as a float; an asset the account lacks holds 0."""
    value = balance[part].get(asset)
    return 0.0 if value is None else float(value)


def _fmt(value: float) -> str:
    return f"{value:.12g}"


class _ExchangeProbe:
    def __init__(self, spec: ExchangeSpec) -> None:
        self._spec = spec
        self._client: Any = None

    async def aclose(self) -> None:
        """Close the ccxt client and its HTTP session, if one was made."""
        client, self._client = self._client, None
        if client is not None:
            await client.close()

    def _get_client(self) -> Any:
        """Return this probe's ccxt client, made on first use and kept for reuse."""
        if self._client is None:
            spec = self._spec
            config = {"enableRateLimit": True, "options": copy.deepcopy(spec.options)}
            client = getattr(_ccxt(), spec.exchange)(config)
            if spec.sandbox:
                client.set_sandbox_mode(True)
            if spec.urls:
                api = copy.deepcopy(client.urls["api"])
                for name, url in spec.urls.items():
                    *parents, leaf = name.split(".")
                    node = api
                    for parent in parents:
                        node = node[parent]
                    node[leaf] = url
                client.urls["api"] = api
            self._client = client
        return self._client

    def _sample(self, name: str, value: float, help_text: str, **labels: str) -> Sample:
        return Sample(name, value, {"exchange": self._spec.exchange, **labels}, help_text)

    def _up(self, value: float) -> Sample:
        return self._sample(
            "exchange_up", value, "Whether the exchange answered the public check (1) or not (0)."
        )

    def _latency(self, method: str, seconds: float) -> Sample:
        return self._sample(
            "exchange_latency_seconds",
            seconds,
            "Duration of a ccxt call to the exchange.",
            method=method,
        )

    async def run(self, ctx: ProbeContext) -> ProbeResult:
        spec = self._spec
        started = time.perf_counter()
        try:
            credentials = await asyncio.to_thread(spec.resolve_credentials)
        except ValueError as exc:
            return ProbeResult.failure(
                f"{spec.exchange}: {exc}", time.perf_counter() - started, self._up(0.0)
            )
        scrub = _Scrubber(credentials)
        client = self._get_client()
        client.timeout = max(1, round(ctx.timeout_s * 1000))
        client.apiKey = credentials.api_key if credentials else None
        client.secret = credentials.secret if credentials else None
        client.password = credentials.password if credentials else None
        # Binance-like exchanges answer a revoked key with -2015, which ccxt reads as a
        # temporary ban once a call has passed: a check must judge the key afresh each time.
        if "hasAlreadyAuthenticatedSuccessfully" in client.options:
            client.options["hasAlreadyAuthenticatedSuccessfully"] = False

        samples: list[Sample] = []
        reach = method = reachability_method(client.has)
        latency_s = 0.0
        try:
            async with asyncio.timeout(ctx.timeout_s):
                call_started = time.perf_counter()
                reply = await getattr(client, reach)()
                latency_s = time.perf_counter() - call_started
                problem = _judge_reply(reach, reply)
                samples += (self._up(0.0 if problem else 1.0), self._latency(reach, latency_s))
                if problem:
                    return ProbeResult.failure(
                        f"{spec.exchange} {reach}: {problem}",
                        time.perf_counter() - started,
                        *samples,
                    )
                if credentials is not None:
                    method = "fetch_balance"
                    call_started = time.perf_counter()
                    balance = await client.fetch_balance()
                    samples.append(self._latency(method, time.perf_counter() - call_started))
                    _check_balance(balance)
                    samples += self._balance_samples(balance)
        except TimeoutError:
            return self._failed(
                f"{spec.exchange} {method}: timed out after {ctx.timeout_s:g} s", started, samples
            )
        except Exception as exc:  # noqa: BLE001 - every failure is a DOWN result with its reason
            headers = getattr(client, "last_response_headers", None)
            error = scrub(_describe(exc, client.id, ctx.timeout_s, headers))
            return self._failed(f"{spec.exchange} {method}: {error}", started, samples)
        return self._judge(reach, latency_s, samples, time.perf_counter() - started)

    def _failed(self, error: str, started: float, samples: list[Sample]) -> ProbeResult:
        if not samples:
            samples = [self._up(0.0)]
        return ProbeResult.failure(error, time.perf_counter() - started, *samples)

    def _balance_samples(self, balance: Any) -> list[Sample]:
        samples: list[Sample] = []
        for threshold in self._spec.balances:
            asset = threshold.asset
            samples += (
                self._sample(
                    "exchange_balance",
                    _amount(balance, "free", asset),
                    "Free (available) amount of an asset in the account.",
                    asset=asset,
                ),
                self._sample(
                    "exchange_balance_held",
                    _amount(balance, "total", asset),
                    "Total amount of an asset in the account, free and in use.",
                    asset=asset,
                ),
            )
        return samples

    def _judge(
        self, reach: str, latency_s: float, samples: list[Sample], duration_s: float
    ) -> ProbeResult:
        spec = self._spec
        free = {s.labels["asset"]: s.value for s in samples if s.name == "exchange_balance"}
        warnings = [
            f"{t.asset} free {_fmt(free[t.asset])} below min_free {_fmt(t.min_free)}"
            for t in spec.balances
            if free[t.asset] < t.min_free
        ]
        if spec.slow_ms is not None and latency_s * 1000 > spec.slow_ms:
            warnings.append(
                f"{reach} took {latency_s * 1000:.0f} ms, slower than slow_ms ({spec.slow_ms:g})"
            )
        return ProbeResult(
            success=True,
            duration_s=duration_s,
            error=f"{spec.exchange}: {'; '.join(warnings)}" if warnings else None,
            degraded=bool(warnings),
            samples=tuple(samples),
        )
