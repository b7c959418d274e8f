"""Solana JSON-RPC providers: up, in step with each other, answering fast; wallets funded.

One check is what an operator types by hand against every provider of the pool, all of
them at once::

    curl -X POST $HELIUS_RPC_URL -H "Content-Type: application/json" \\
      -d '{"jsonrpc":"2.0","id":1,"method":"getHealth"}'     # then getSlot, getLatestBlockhash

A provider is healthy when it answers all three, says ``"ok"`` to getHealth, and is at
most ``max_slot_lag`` slots behind the highest slot the pool reports. The monitor is UP
while at least ``min_healthy_providers`` are healthy, DEGRADED while any provider is
unhealthy, lagging or slower than ``slow_ms`` or a wallet is low, and DOWN otherwise.

Wallet balances (and, if asked, recent prioritization fees) are read from the preferred
healthy provider: ``priority`` 1 first, as the operators' runbooks rank their pool
("Helius: priority 1, QuickNode: priority 2, public: fallback"), then the fastest; a
provider that fails the query hands it to the next one.

A wallet below ``min_balance_sol`` makes the monitor DEGRADED, an empty one too: this
monitor's DOWN means "the RPC pool cannot serve the bot", and an operator paged for it
looks at the providers. A dry wallet needs a deposit, not an RPC failover; it is named in
the error, and ``solana_wallet_balance_sol == 0`` is there for a rule of its own.

Provider URLs carry API keys. They come inline (``url``), from an environment variable
(``url_env``) or from a file (``url_file``), are read on every check so a rotated key is
picked up, and never appear in an error, a label or a sample: samples are labelled with
the provider's name.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, Self, TypeGuard, TypeVar
from urllib.parse import parse_qsl, unquote, urlsplit

import httpx
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from tradewarden.probes._model import Probe, ProbeContext, ProbeResult, Sample
from tradewarden.probes._secrets import EnvName, read_secret
from tradewarden.probes._spec import MonitorSpec
from tradewarden.telemetry._redact import MASK, redact_text

__all__ = ["SolanaProvider", "SolanaRpcSpec", "SolanaWallet", "quantile"]

LAMPORTS_PER_SOL = 1_000_000_000
NODE_UNHEALTHY = -32005  # Solana's JSON-RPC error code for "Node is unhealthy / behind"
FEE_QUANTILES = (0.5, 0.9)

# Slots, blockhashes and balances are read at one commitment, so providers are compared
# like for like (each provider's default could differ); "confirmed" is what trading bots
# build transactions against.
_COMMITMENT = {"commitment": "confirmed"}
_MAX_BODY_BYTES = 1_048_576
# Answer before the scheduler's own timeout cancels the run and loses the details.
_BUDGET_SHARE = 0.9
# With balances or fees to read, the providers get two thirds of that budget and the
# follow-up queries the rest: one hung provider must not starve the wallet check.
_PROVIDER_SHARE = 2 / 3
_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_BASE58_VALUES = {char: value for value, char in enumerate(_BASE58)}
_PUBKEY_BYTES = 32

_T = TypeVar("_T")

_Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]


# --- The spec --------------------------------------------------------------------------


class SolanaProvider(BaseModel):
    """One RPC endpoint of the pool; its URL is a secret."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    name: _Name
    url: SecretStr | None = None
    url_env: EnvName | None = None
    url_file: Path | None = None
    priority: int = Field(default=1, ge=1, le=100)

    # "Two sources" is blamed on the later field, so the error's loc names it; "no
    # source" belongs to no field and is the model validator's.

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            problem = _url_problem(value.get_secret_value())
            if problem:
                raise ValueError(f"url {problem}")
        return value

    @field_validator("url_env", "url_file")
    @classmethod
    def _one_source(cls, value: object, info: ValidationInfo) -> object:
        earlier = ("url", "url_env")[: 1 if info.field_name == "url_env" else 2]
        given = [name for name in earlier if info.data.get(name) is not None]
        if value is not None and given:
            raise ValueError(
                f"set exactly one of url, url_env, url_file ({' and '.join(given)} set too)"
            )
        return value

    @model_validator(mode="after")
    def _some_source(self) -> Self:
        if self.url is None and self.url_env is None and self.url_file is None:
            raise ValueError("set exactly one of url, url_env, url_file (got none)")
        return self

    def resolve_url(self) -> str:
        """Return the URL from where it is configured; raise ValueError saying what is wrong."""
        return read_secret("url", self.url, self.url_env, self.url_file, _url_problem)


class SolanaWallet(BaseModel):
    """A wallet whose SOL balance must stay at or above ``min_balance_sol``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: _Name
    address: str = Field(min_length=32, max_length=44)
    min_balance_sol: float = Field(ge=0, allow_inf_nan=False)

    @field_validator("address")
    @classmethod
    def _base58_pubkey(cls, value: str) -> str:
        decoded = _base58_decode(value)
        if decoded is None:
            raise ValueError("address is not base58 (no 0, O, I or l; letters and digits only)")
        if len(decoded) != _PUBKEY_BYTES:
            raise ValueError(f"address decodes to {len(decoded)} bytes, a Solana public key has 32")
        return value


class SolanaRpcSpec(MonitorSpec):
    """Check a pool of Solana RPC providers, and optionally wallet balances and fees."""

    # Provider URLs carry API keys: never echo input back in a validation error.
    model_config = ConfigDict(hide_input_in_errors=True)

    kind: Literal["solana_rpc"] = "solana_rpc"
    # Lists, not tuples: pydantic adds a bogus "too short" to a tuple whose item failed.
    providers: list[SolanaProvider] = Field(min_length=1, max_length=10)
    max_slot_lag: int = Field(default=50, ge=0)
    slow_ms: float | None = Field(default=None, gt=0)
    success_window: int = Field(default=20, ge=1, le=10_000)
    min_healthy_providers: int = Field(default=1, ge=1)
    wallets: list[SolanaWallet] = Field(default_factory=list, max_length=20)
    prioritization_fees: bool = False

    @field_validator("providers")
    @classmethod
    def _unique_provider_names(cls, value: list[SolanaProvider]) -> list[SolanaProvider]:
        _require_unique("provider", (provider.name for provider in value))
        return value

    @field_validator("min_healthy_providers")
    @classmethod
    def _within_pool(cls, value: int, info: ValidationInfo) -> int:
        providers = info.data.get("providers")
        if providers is not None and value > len(providers):
            raise ValueError(
                f"min_healthy_providers ({value}) exceeds the {len(providers)} providers"
            )
        return value

    @field_validator("wallets")
    @classmethod
    def _unique_wallet_names(cls, value: list[SolanaWallet]) -> list[SolanaWallet]:
        _require_unique("wallet", (wallet.name for wallet in value))
        return value

    def build(self) -> Probe:
        return _SolanaRpcProbe(self)


def _require_unique(what: str, names: Iterable[str]) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ValueError(f"{what} name {name!r} is used twice")
        seen.add(name)


def _url_problem(url: str) -> str | None:
    """Return what is wrong with ``url``, without quoting it, or None."""
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises on a port that is not a number
        httpx.URL(url)  # stricter than urlsplit: what the request will need
    except (ValueError, httpx.InvalidURL):
        return "is not a valid URL"
    if parts.scheme not in {"http", "https"}:
        return "must be an http:// or https:// URL"
    if not parts.hostname:
        return "has no host"
    return None


def _base58_decode(text: str) -> bytes | None:
    """Return the bytes ``text`` encodes in Bitcoin's base58 alphabet, or None."""
    number = 0
    for char in text:
        value = _BASE58_VALUES.get(char)
        if value is None:
            return None
        number = number * 58 + value
    leading_zeros = len(text) - len(text.lstrip("1"))
    return b"\0" * leading_zeros + number.to_bytes((number.bit_length() + 7) // 8, "big")


def quantile(values: Sequence[float], q: float) -> float:
    """Return the ``q`` quantile of non-empty ``values``, interpolating between ranks."""
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


# --- One JSON-RPC call -----------------------------------------------------------------


class _RpcError(Exception):
    """A call without a usable result; the message is what an operator reads.

    ``code`` is set when the node answered with a JSON-RPC error object: it is up, and
    refused.
    """

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


def _url_secrets(url: str) -> tuple[str, ...]:
    """Return the parts of ``url`` that may be a key: userinfo, query values, path words."""
    parts = urlsplit(url)
    found = {url, parts.username or "", parts.password or ""}
    found.update(value for _, value in parse_qsl(parts.query))
    found.update(pair.partition("=")[2] for pair in parts.query.split("&"))
    # QuickNode and friends put the key in the path; short words like "v2" are no key.
    found.update(segment for segment in parts.path.split("/") if len(segment) >= 8)
    found |= {unquote(secret) for secret in found}
    # Longest first, so a secret containing another one is masked whole.
    return tuple(sorted((s for s in found if len(s) >= 4), key=len, reverse=True))


def _scrub(text: str, secrets: Sequence[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, MASK)
    return redact_text(text)


def _clip(text: str) -> str:
    return text if len(text) <= 80 else text[:77] + "..."


def _short(value: Any) -> str:
    """Return ``value`` as JSON, clipped: strings quoted, so "" and null read apart."""
    return _clip(json.dumps(value, default=str))


def _describe_transport(exc: httpx.HTTPError) -> str:
    causes: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(causes) < 10:
        causes.append(current)
        current = current.__cause__ or current.__context__
    if any(isinstance(cause, ConnectionRefusedError) for cause in causes):
        return "connection refused"
    if isinstance(exc, httpx.RemoteProtocolError):
        return f"protocol error: {exc}"
    return str(exc) or type(exc).__name__


async def _read_capped(response: httpx.Response) -> bytes | None:
    """Return the body, or None when it is longer than ``_MAX_BODY_BYTES``."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > _MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


@dataclass(slots=True)
class _Rpc:
    """JSON-RPC calls to one provider until ``deadline`` (event-loop time)."""

    client: httpx.AsyncClient
    url: str
    deadline: float
    latencies: dict[str, float] = field(default_factory=dict)

    async def call(self, method: str, params: list[Any] | None = None) -> Any:
        """Return the result of ``method``; raise _RpcError on anything else."""
        remaining = self.deadline - asyncio.get_running_loop().time()
        if remaining <= 0:
            raise _RpcError(f"{method} timed out")
        payload = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}
        started = time.perf_counter()
        try:
            async with (
                asyncio.timeout_at(self.deadline),
                self.client.stream("POST", self.url, json=payload, timeout=remaining) as response,
            ):
                body = await _read_capped(response)
        except (TimeoutError, httpx.TimeoutException):
            raise _RpcError(f"{method} timed out") from None
        except httpx.HTTPError as exc:
            raise _RpcError(f"{method} failed: {_describe_transport(exc)}") from None
        except httpx.InvalidURL:  # its message quotes the URL, key and all
            raise _RpcError(f"{method} failed: invalid URL") from None
        latency_s = time.perf_counter() - started
        if response.status_code != httpx.codes.OK:
            phrase = response.reason_phrase or ""
            raise _RpcError(f"{method} got HTTP {response.status_code} {phrase}".rstrip())
        if body is None:
            raise _RpcError(f"{method} answered more than {_MAX_BODY_BYTES} bytes")
        try:
            document = json.loads(body)
        except (ValueError, RecursionError):  # not JSON, not UTF-8, nested beyond reason
            raise _RpcError(f"{method} answered with a body that is not JSON") from None
        if not isinstance(document, dict) or not ("result" in document or "error" in document):
            raise _RpcError(f"{method} answered with JSON that is no JSON-RPC response")
        # The node answered: that is a latency, whether the answer is a result or a refusal.
        self.latencies[method] = latency_s
        if "error" in document:
            raise _rpc_error(method, document["error"])
        return document["result"]


def _rpc_error(method: str, error: Any) -> _RpcError:
    if not isinstance(error, dict) or not isinstance(error.get("code"), int):
        return _RpcError(f"{method} answered with a malformed error {_short(error)}")
    code: int = error["code"]
    message = error.get("message")
    data = error.get("data")
    behind = data.get("numSlotsBehind") if isinstance(data, dict) else None
    if code == NODE_UNHEALTHY and isinstance(behind, int) and not isinstance(behind, bool):
        return _RpcError(f"{method} {code} node is behind by {behind} slots", code)
    if code == NODE_UNHEALTHY:
        return _RpcError(f"{method} {code} node is unhealthy", code)
    return _RpcError(f"{method} error {code} {_clip(str(message or ''))}".rstrip(), code)


def _is_count(value: Any) -> TypeGuard[int]:
    """Return whether ``value`` is a u64 as JSON carries it (slot, lamports, fee)."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**64


def _slot(result: Any) -> int:
    if not _is_count(result):
        raise _RpcError(f"getSlot result is not a slot number: {_short(result)}")
    return result


def _blockhash(result: Any) -> str:
    latest = _value_of("getLatestBlockhash", result)
    blockhash = latest.get("blockhash") if isinstance(latest, dict) else None
    if not isinstance(blockhash, str) or not blockhash:
        raise _RpcError(f"getLatestBlockhash result has no value.blockhash: {_short(result)}")
    return blockhash


def _value_of(method: str, result: Any) -> Any:
    """Return ``result.value`` of an RpcResponse-shaped result."""
    if not isinstance(result, dict) or "value" not in result:
        raise _RpcError(f"{method} result has no value: {_short(result)}")
    return result["value"]


# --- Reading one provider --------------------------------------------------------------


@dataclass(slots=True)
class _Reading:
    """What one provider said in one check."""

    provider: SolanaProvider
    url: str | None = None
    latencies: dict[str, float] = field(default_factory=dict)
    slot: int | None = None
    unhealthy: str | None = None  # getHealth said no
    failure: str | None = None  # no usable answer: the provider is down

    @property
    def answered(self) -> bool:
        """Return whether every call got a usable answer."""
        return self.failure is None and self.unhealthy is None


async def _read_provider(
    client: httpx.AsyncClient, provider: SolanaProvider, deadline: float
) -> _Reading:
    reading = _Reading(provider)
    try:
        # A file read may block on a slow disk or network share; env and inline do not.
        if provider.url_file is not None:
            url = await asyncio.to_thread(provider.resolve_url)
        else:
            url = provider.resolve_url()
    except ValueError as exc:
        reading.failure = str(exc)
        return reading
    reading.url = url
    rpc = _Rpc(client, url, deadline, reading.latencies)
    try:
        try:
            health = await rpc.call("getHealth")
            if health != "ok":
                reading.unhealthy = f'getHealth answered {_short(health)}, not "ok"'
        except _RpcError as exc:
            if exc.code is None:
                raise
            # A node that says it is behind still tells its slot: keep asking, for the lag.
            reading.unhealthy = str(exc)
        reading.slot = _slot(await rpc.call("getSlot", [_COMMITMENT]))
        _blockhash(await rpc.call("getLatestBlockhash", [_COMMITMENT]))
    except _RpcError as exc:
        reading.failure = _scrub(str(exc), _url_secrets(url))
    except Exception as exc:  # noqa: BLE001 - a bug here must not hide the other providers
        reading.failure = _scrub(f"{type(exc).__name__}: {exc}", _url_secrets(url))
    return reading


# --- The verdict -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Assessment:
    """One provider judged against the pool."""

    reading: _Reading
    lag: int | None
    healthy: bool
    problems: tuple[str, ...]  # why it is unhealthy, or a warning (slow)


def _assess(spec: SolanaRpcSpec, readings: Sequence[_Reading]) -> list[_Assessment]:
    answered = [r.slot for r in readings if r.slot is not None and r.unhealthy is None]
    # When every node is unhealthy, their slots are still better than no reference.
    reference = max(answered or [r.slot for r in readings if r.slot is not None], default=None)
    assessments = []
    for reading in readings:
        problems = [p for p in (reading.unhealthy, reading.failure) if p is not None]
        lag = None
        if reading.slot is not None and reference is not None:
            lag = max(0, reference - reading.slot)
            if lag > spec.max_slot_lag:
                problems.append(
                    f"{lag} slots behind the highest slot {reference} "
                    f"(max_slot_lag {spec.max_slot_lag})"
                )
        healthy = not problems
        if spec.slow_ms is not None and reading.latencies:
            method, slowest = max(reading.latencies.items(), key=lambda item: item[1])
            if slowest * 1000 > spec.slow_ms:
                problems.append(
                    f"{method} took {slowest * 1000:.0f} ms, slower than slow_ms ({spec.slow_ms:g})"
                )
        assessments.append(_Assessment(reading, lag, healthy, tuple(problems)))
    return assessments


def _ranked(assessments: Sequence[_Assessment]) -> list[_Reading]:
    """Return the healthy providers, preferred first: priority 1 first, then fastest."""
    healthy = [a.reading for a in assessments if a.healthy]
    return sorted(
        healthy, key=lambda r: (r.provider.priority, r.latencies.get("getSlot", math.inf))
    )


def _sample(name: str, value: float, help_text: str, **labels: str) -> Sample:
    return Sample(name, value, labels, help_text)


def _provider_samples(assessment: _Assessment, success_ratio: float) -> list[Sample]:
    reading = assessment.reading
    labels = {"provider": reading.provider.name}
    samples = [
        _sample(
            "solana_rpc_up",
            float(assessment.healthy),
            "Whether the provider answered, is healthy and keeps up (1) or not (0).",
            **labels,
        ),
        _sample(
            "solana_rpc_success_ratio",
            success_ratio,
            "Share of the provider's recent checks in which every call was answered.",
            **labels,
        ),
    ]
    if reading.slot is not None:
        samples.append(
            _sample("solana_rpc_slot", reading.slot, "Slot the provider reports.", **labels)
        )
    if assessment.lag is not None:
        samples.append(
            _sample(
                "solana_rpc_slot_lag",
                assessment.lag,
                "Slots behind the highest slot among the healthy providers.",
                **labels,
            )
        )
    samples.extend(
        _sample(
            "solana_rpc_latency_seconds",
            latency_s,
            "Round trip of one JSON-RPC call.",
            method=method,
            **labels,
        )
        for method, latency_s in reading.latencies.items()
    )
    return samples


@dataclass(slots=True)
class _Extras:
    """What the follow-up queries found: balances in lamports, fees, and what failed."""

    balances: dict[str, int] = field(default_factory=dict)
    fees: list[float] | None = None
    problems: list[str] = field(default_factory=list)


def _wallet_samples_and_warnings(
    spec: SolanaRpcSpec, extras: _Extras
) -> tuple[list[Sample], list[str]]:
    samples, warnings = [], []
    for wallet in spec.wallets:
        lamports = extras.balances.get(wallet.name)
        if lamports is None:
            continue
        sol = lamports / LAMPORTS_PER_SOL
        samples.append(
            _sample("solana_wallet_balance_sol", sol, "Wallet balance in SOL.", wallet=wallet.name)
        )
        if sol < wallet.min_balance_sol:
            state = "empty (0 SOL)" if lamports == 0 else f"{sol:.9g} SOL"
            warnings.append(
                f"wallet {wallet.name}: {state}, below min_balance_sol ({wallet.min_balance_sol:g})"
            )
    if extras.fees:
        samples.extend(
            _sample(
                "solana_priority_fee_microlamports",
                quantile(extras.fees, q),
                "Quantile of recent prioritization fees, in micro-lamports per compute unit.",
                quantile=f"{q:g}",
            )
            for q in FEE_QUANTILES
        )
    return samples, warnings


# --- The probe -------------------------------------------------------------------------


class _SolanaRpcProbe:
    def __init__(self, spec: SolanaRpcSpec) -> None:
        self._spec = spec
        # Per provider: whether each recent check got every call answered.
        self._history = {
            provider.name: deque[bool](maxlen=spec.success_window) for provider in spec.providers
        }

    async def run(self, ctx: ProbeContext) -> ProbeResult:
        spec = self._spec
        started = time.perf_counter()
        loop = asyncio.get_running_loop()
        budget_s = ctx.timeout_s * _BUDGET_SHARE
        deadline = loop.time() + budget_s
        follow_up = bool(spec.wallets) or spec.prioritization_fees
        providers_deadline = loop.time() + (budget_s * _PROVIDER_SHARE if follow_up else budget_s)
        readings = await asyncio.gather(
            *(_read_provider(ctx.http, p, providers_deadline) for p in spec.providers)
        )
        assessments = _assess(spec, readings)
        ranked = _ranked(assessments)
        extras = _Extras()
        if ranked and follow_up:
            await self._follow_up(ctx.http, ranked, deadline, extras)
        for reading in readings:
            self._history[reading.provider.name].append(reading.answered)
        return self._judge(assessments, extras, time.perf_counter() - started)

    async def _follow_up(
        self, client: httpx.AsyncClient, ranked: list[_Reading], deadline: float, extras: _Extras
    ) -> None:
        calls = [self._balance(client, ranked, deadline, w, extras) for w in self._spec.wallets]
        if self._spec.prioritization_fees:
            calls.append(self._fees(client, ranked, deadline, extras))
        await asyncio.gather(*calls)

    async def _balance(
        self,
        client: httpx.AsyncClient,
        ranked: list[_Reading],
        deadline: float,
        wallet: SolanaWallet,
        extras: _Extras,
    ) -> None:
        params = [wallet.address, _COMMITMENT]
        lamports, why = await _first_answer(
            client, ranked, deadline, "getBalance", params=params, parse=_lamports
        )
        if lamports is None:
            extras.problems.append(f"wallet {wallet.name}: balance unknown: {why}")
        else:
            extras.balances[wallet.name] = lamports

    async def _fees(
        self, client: httpx.AsyncClient, ranked: list[_Reading], deadline: float, extras: _Extras
    ) -> None:
        fees, why = await _first_answer(
            client, ranked, deadline, "getRecentPrioritizationFees", params=[], parse=_fee_list
        )
        if fees is None:
            extras.problems.append(f"prioritization fees unknown: {why}")
        else:
            extras.fees = fees

    def _judge(
        self, assessments: list[_Assessment], extras: _Extras, duration_s: float
    ) -> ProbeResult:
        spec = self._spec
        samples: list[Sample] = []
        for assessment in assessments:
            history = self._history[assessment.reading.provider.name]
            ratio = sum(history) / len(history) if history else 0.0
            samples.extend(_provider_samples(assessment, ratio))
        wallet_samples, wallet_warnings = _wallet_samples_and_warnings(spec, extras)
        samples.extend(wallet_samples)
        problems = [
            f"{a.reading.provider.name}: {problem}" for a in assessments for problem in a.problems
        ]
        healthy = sum(a.healthy for a in assessments)
        if healthy < spec.min_healthy_providers:
            error = (
                f"{healthy} of {len(assessments)} providers healthy, "
                f"need {spec.min_healthy_providers}: {'; '.join(problems)}"
            )
            return ProbeResult.failure(error, duration_s, *samples)
        warnings = [*problems, *wallet_warnings, *extras.problems]
        return ProbeResult(
            success=True,
            duration_s=duration_s,
            error="; ".join(warnings) or None,
            degraded=bool(warnings),
            samples=tuple(samples),
        )


def _lamports(result: Any) -> int:
    lamports = _value_of("getBalance", result)
    if not _is_count(lamports):
        raise _RpcError(f"getBalance value is not a lamport count: {_short(lamports)}")
    return lamports


def _fee_list(result: Any) -> list[float]:
    fees: list[float] = []
    for entry in result if isinstance(result, list) else [None]:
        fee = entry.get("prioritizationFee") if isinstance(entry, dict) else None
        if not _is_count(fee):
            raise _RpcError(
                "getRecentPrioritizationFees result is not a list of "
                f"{{slot, prioritizationFee}}: {_short(result)}"
            )
        fees.append(float(fee))
    return fees


async def _first_answer(
    client: httpx.AsyncClient,
    ranked: list[_Reading],
    deadline: float,
    method: str,
    *,
    params: list[Any],
    parse: Callable[[Any], _T],
) -> tuple[_T | None, str]:
    """Ask the preferred provider, then the next ones; return (value, "") or (None, why)."""
    failures = []
    for reading in ranked:
        url = reading.url
        if url is None:  # unreachable: a ranked provider has answered
            continue
        try:
            return parse(await _Rpc(client, url, deadline).call(method, params)), ""
        except _RpcError as exc:
            why = str(exc)
        except Exception as exc:  # noqa: BLE001 - a bug here must not fail the whole check
            why = f"{type(exc).__name__}: {exc}"
        failures.append(f"{reading.provider.name}: {_scrub(why, _url_secrets(url))}")
    return None, ", ".join(failures) or "no healthy provider"
