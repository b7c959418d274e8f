"""The RPC endpoint pool: ranked endpoints, one breaker each, failover on what another can fix.

A request goes to the best-ranked endpoint whose breaker allows it and which is not
waiting out a ``Retry-After``. On a failure another endpoint can fix (no answer, 5xx,
429, -32005 node unhealthy, a node that cannot answer yet) the next endpoint is tried; a
deterministic answer (an invalid request, a failed simulation, blockhash not found) is
raised at once: every node would say the same.

Sending a transaction (``sendTransaction`` and the like) is different: it goes to one
endpoint, and to another only when the first surely never received it (breaker open,
waiting out a ``Retry-After``, connection refused, HTTP 429, -32005). Any other failure
raises ``RpcOutcomeUnknownError``, which the retry policy does not retry: the transaction
may land, and re-sending it after a blockhash refresh is how a bot buys twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

from prometheus_client import CollectorRegistry

from tradewarden.clock import Clock, SystemClock
from tradewarden.guard.retry import (
    Action,
    Failure,
    FailureKind,
    classify_rpc_error,
    parse_retry_after,
)
from tradewarden.guard.rpc._breaker import BreakerFactory, BreakerPort, LocalBreaker, Permit
from tradewarden.guard.rpc._endpoint import Endpoint
from tradewarden.guard.rpc._errors import (
    NoEndpointAvailableError,
    RpcError,
    RpcHttpError,
    RpcOutcomeUnknownError,
    RpcProtocolError,
    RpcResponseError,
    RpcTransportError,
)
from tradewarden.guard.rpc._health import HealthSampler, SolanaSlotSampler
from tradewarden.guard.rpc._metrics import RpcMetrics
from tradewarden.guard.rpc._ranking import Sample, Standing, lags, rank, scores
from tradewarden.guard.rpc._transport import HttpReply, HttpxTransport, Transport, TransportFailure

__all__ = ["SEND_METHODS", "EndpointStatus", "PoolConfig", "RpcPool"]

log = logging.getLogger("tradewarden.guard.rpc")

SEND_METHODS = frozenset(
    {"sendTransaction", "sendBundle", "eth_sendRawTransaction", "eth_sendTransaction"}
)
_OPEN = frozenset({"OPEN", "FORCED_OPEN"})
# The failures that prove a send was not taken: safe to hand to another endpoint.
_REFUSED_UNSEEN = frozenset({FailureKind.RATE_LIMITED, FailureKind.NODE_UNHEALTHY})


@dataclass(frozen=True, slots=True)
class PoolConfig:
    """How the pool samples, ranks and fails over (viem's defaults for the sampling)."""

    sample_size: int = 10  # the last N pings that make the score
    sample_interval_s: float = 4.0  # between sampling rounds, when started
    sample_timeout_s: float = 1.0
    request_timeout_s: float = 10.0  # per endpoint tried
    deadline_s: float | None = None  # a whole request, every endpoint tried (None: no bound)
    max_slot_lag: int = 50  # slots (heights) behind the pool's highest before demotion
    rate_limit_default_s: float = 1.0  # a 429 without Retry-After: wait this long
    send_methods: frozenset[str] = SEND_METHODS
    resend_transactions: bool = False  # True: sends fail over like reads (opt in)

    def __post_init__(self) -> None:
        if self.sample_size < 1:
            raise ValueError("sample_size must be at least 1")
        if self.max_slot_lag < 0:
            raise ValueError("max_slot_lag must not be negative")
        if self.deadline_s is not None and self.deadline_s <= 0:
            raise ValueError("deadline_s must be positive (or None)")


@dataclass(frozen=True, slots=True)
class EndpointStatus:
    """A snapshot of one endpoint as the pool ranks it (provider name only, never a URL)."""

    name: str
    priority: int
    score: float
    slot_lag: int | None
    demoted: bool
    breaker: str
    rate_limited_for_s: float
    healthy: bool


@dataclass(slots=True)
class _Member:
    endpoint: Endpoint
    breaker: BreakerPort
    samples: deque[Sample]
    height: int | None = None
    rate_limited_until: float = 0.0  # monotonic
    last_sample_ok: bool = True
    lag: int | None = None
    demoted: bool = False
    score: float = 1.0  # unsampled: assumed good, so tiers decide at start


class RpcPool:
    """A pool of JSON-RPC endpoints with ranking, breakers, failover and metrics."""

    def __init__(
        self,
        endpoints: Sequence[Endpoint],
        *,
        config: PoolConfig | None = None,
        transport: Transport | None = None,
        sampler: HealthSampler | None = None,
        breaker_factory: BreakerFactory | None = None,
        registry: CollectorRegistry | None = None,
        clock: Clock | None = None,
        asleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if not endpoints:
            raise ValueError("an RPC pool needs at least one endpoint")
        names = [e.name for e in endpoints]
        if len(set(names)) != len(names):
            raise ValueError("endpoint names must be unique (they are the metrics' labels)")
        self.config = config or PoolConfig()
        self._clock = clock or SystemClock()
        self._owns_transport = transport is None
        # httpx's request log then names the provider, not the URL with its key.
        self._transport: Transport = transport or HttpxTransport(
            names={e.url: e.name for e in endpoints}
        )
        self._sampler: HealthSampler = sampler or SolanaSlotSampler()
        factory = breaker_factory or (lambda name: LocalBreaker(name, clock=self._clock))
        self._members = [
            _Member(e, factory(e.name), deque(maxlen=self.config.sample_size)) for e in endpoints
        ]
        self._metrics = RpcMetrics(registry if registry is not None else CollectorRegistry())
        self._ids = itertools.count(1)
        self._asleep = asleep
        self._sampling: asyncio.Task[None] | None = None
        for member in self._members:
            self._metrics.health.labels(member.endpoint.name).set(1)

    def __repr__(self) -> str:
        return f"RpcPool(providers={[m.endpoint.name for m in self._members]!r})"

    @property
    def endpoints(self) -> tuple[Endpoint, ...]:
        """Return the endpoints, in the order given."""
        return tuple(m.endpoint for m in self._members)

    # --- lifecycle -------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def start(self) -> None:
        """Sample every endpoint once, then keep sampling every ``sample_interval_s``."""
        await self.sample()
        if self._sampling is None and self.config.sample_interval_s > 0:
            self._sampling = asyncio.create_task(self._sample_forever(), name="rpc-pool-sampler")

    async def aclose(self) -> None:
        """Stop sampling and close the transport if the pool made it."""
        if self._sampling is not None:
            self._sampling.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sampling
            self._sampling = None
        if self._owns_transport:
            await self._transport.aclose()

    async def _sample_forever(self) -> None:
        while True:
            await self._asleep(self.config.sample_interval_s)
            try:
                await self.sample()
            except Exception:  # a sampler bug must not end sampling
                log.exception("rpc pool: sampling round failed")

    # --- ranking ---------------------------------------------------------------------

    async def sample(self) -> None:
        """Ping every endpoint once, concurrently, and re-rank."""
        await asyncio.gather(*(self._sample_one(m) for m in self._members))
        self._rerank()

    async def _sample_one(self, member: _Member) -> None:
        name = member.endpoint.name

        async def call(method: str, params: Any) -> Any:
            body = self._encode(method, params)
            return await self._send(member, method, body, self.config.sample_timeout_s)

        started = self._clock.monotonic()
        try:
            height = await self._sampler.sample(call)
        except (RpcError, ValueError) as exc:
            ok, height = False, None
            log.info("rpc pool: %s failed its health sample (%s)", name, _reason(exc))
        else:
            ok = True
        member.samples.append(Sample(ok, self._clock.monotonic() - started, height))
        member.last_sample_ok = ok
        if height is not None:
            member.height = height

    def _rerank(self) -> None:
        by_name = {m.endpoint.name: m for m in self._members}
        scored = scores({name: list(m.samples) for name, m in by_name.items()})
        behind = lags({name: m.height for name, m in by_name.items()})
        for name, member in by_name.items():
            member.score = scored.get(name, 1.0)
            member.lag = behind[name]
            lagging = member.lag is not None and member.lag > self.config.max_slot_lag
            # No ping answered in the whole window: down, whatever its tier.
            member.demoted = lagging or (name in scored and member.score == 0.0)
            self._metrics.slot_lag.labels(name).set(member.lag or 0)
            self._update_health(member)

    def _update_health(self, member: _Member) -> None:
        self._metrics.health.labels(member.endpoint.name).set(1 if _healthy(member) else 0)

    def _ranked(self) -> list[_Member]:
        by_name = {m.endpoint.name: m for m in self._members}
        standings = rank(
            Standing(
                m.endpoint.name, m.endpoint.priority, m.endpoint.weight, m.score, m.lag, m.demoted
            )
            for m in self._members
        )
        return [by_name[s.name] for s in standings]

    def status(self) -> list[EndpointStatus]:
        """Return every endpoint, best-ranked first."""
        now = self._clock.monotonic()
        return [
            EndpointStatus(
                name=m.endpoint.name,
                priority=m.endpoint.priority,
                score=m.score,
                slot_lag=m.lag,
                demoted=m.demoted,
                breaker=m.breaker.state_name,
                rate_limited_for_s=max(0.0, m.rate_limited_until - now),
                healthy=_healthy(m),
            )
            for m in self._ranked()
        ]

    # --- requests --------------------------------------------------------------------

    async def request(self, method: str, params: Any = None) -> Any:
        """Call ``method`` on the best endpoint that can answer; fail over when it helps."""
        sending = method in self.config.send_methods and not self.config.resend_transactions
        body = self._encode(method, params)
        started = self._clock.monotonic()
        errors: list[RpcError] = []
        skipped: list[str] = []
        waits: list[float] = []
        for member in self._ranked():
            name = member.endpoint.name
            now = self._clock.monotonic()
            timeout_s = self.config.request_timeout_s
            if self.config.deadline_s is not None:
                timeout_s = min(timeout_s, started + self.config.deadline_s - now)
                if timeout_s <= 0:
                    skipped.append(f"{name}: deadline passed")
                    break
            wait_s = member.rate_limited_until - now
            if wait_s > 0:
                self._metrics.requests.labels(name, method, "deferred").inc()
                skipped.append(f"{name}: rate limited for {wait_s:.3g} s")
                waits.append(wait_s)
                continue
            permit = member.breaker.allow()
            if permit is None:
                self._metrics.requests.labels(name, method, "rejected").inc()
                skipped.append(f"{name}: breaker {member.breaker.state_name}")
                continue
            try:
                result = await self._send(member, method, body, timeout_s)
            except RpcError as exc:
                self._failed_over(member, permit, exc, sending=sending, waits=waits)
                errors.append(exc)
                continue
            except asyncio.CancelledError:
                permit.release()  # the caller gave up: nothing is known of the endpoint
                raise
            except BaseException:
                permit.record_failure()  # a transport's bug
                raise
            permit.record_success()
            self._update_health(member)
            return result
        raise self._exhausted(method, errors, skipped, waits)

    def _failed_over(
        self,
        member: _Member,
        permit: Permit,
        exc: RpcError,
        *,
        sending: bool,
        waits: list[float],
    ) -> None:
        """Record ``exc``; raise it unless another endpoint may be asked."""
        name, method = member.endpoint.name, exc.method
        if not self._counts_against_endpoint(exc.failure):
            permit.record_success()  # it answered: the answer is the problem
            self._update_health(member)
            raise exc
        permit.record_failure()
        self._update_health(member)
        if exc.failure.kind is FailureKind.RATE_LIMITED:
            pause = exc.failure.retry_after_s or self.config.rate_limit_default_s
            member.rate_limited_until = self._clock.monotonic() + pause
            waits.append(pause)
        if sending and not _surely_unseen(exc):
            log.warning(
                "rpc pool: %s %s failed (%s) and may have been received: not re-sent",
                name,
                method,
                exc.failure.kind.value,
            )
            raise _outcome_unknown(exc) from exc
        log.warning(
            "rpc pool: %s %s failed (%s); trying the next endpoint",
            name,
            method,
            exc.failure.kind.value,
        )

    @staticmethod
    def _counts_against_endpoint(failure: Failure) -> bool:
        """Return whether ``failure`` is the endpoint's fault (another may do better)."""
        return failure.action in {Action.SWITCH_ENDPOINT, Action.WAIT_RETRY_AFTER} or (
            failure.kind in {FailureKind.TIMEOUT, FailureKind.NETWORK}
        )

    def _exhausted(
        self, method: str, errors: list[RpcError], skipped: list[str], waits: list[float]
    ) -> NoEndpointAvailableError:
        said = "; ".join([f"{e.provider}: {e.failure.kind.value}" for e in errors] + skipped)
        only_rate_limited = bool(waits) and all(
            e.failure.kind is FailureKind.RATE_LIMITED for e in errors
        )
        failure = Failure(
            FailureKind.RATE_LIMITED if only_rate_limited else FailureKind.NO_ENDPOINT_AVAILABLE,
            f"no endpoint answered {method} ({said})",
            retry_after_s=min(waits) if only_rate_limited else None,
        )
        return NoEndpointAvailableError(
            failure.message, method=method, failure=failure, errors=tuple(errors)
        )

    def _encode(self, method: str, params: Any) -> bytes:
        """Return the request body; params that are not JSON are the caller's bug (raised)."""
        payload: dict[str, Any] = {"jsonrpc": "2.0", "id": next(self._ids), "method": method}
        if params is not None:
            payload["params"] = params
        return json.dumps(payload).encode()

    async def _send(self, member: _Member, method: str, body: bytes, timeout_s: float) -> Any:
        """Make one JSON-RPC call to ``member``; raise an RpcError naming only its provider."""
        name = member.endpoint.name
        started = self._clock.monotonic()
        outcome = "success"
        try:
            # A plugged-in transport may not honour timeout_s: the pool bounds the wait itself.
            bound = asyncio.timeout(timeout_s)
            try:
                async with bound:
                    reply = await self._transport.post(
                        member.endpoint.url,
                        body,
                        headers=member.endpoint.headers,
                        timeout_s=timeout_s,
                    )
            except TimeoutError:
                if not bound.expired():
                    raise  # the transport's own error, not the pool's bound
                raise TransportFailure("timed out", timeout=True, delivered=True) from None
            return self._result(name, method, reply)
        except TransportFailure as exc:
            outcome = (
                "timeout"
                if exc.timeout
                else "unreachable"
                if not exc.delivered
                else "transport_error"
            )
            kind = FailureKind.TIMEOUT if exc.timeout else FailureKind.NETWORK
            raise RpcTransportError(
                f"{name}: {method} got no answer ({exc.reason})",
                provider=name,
                method=method,
                failure=Failure(kind, exc.reason),
                timeout=exc.timeout,
                delivered=exc.delivered,
            ) from None
        except RpcError as exc:
            outcome = _outcome(exc)
            raise
        except Exception as exc:  # noqa: BLE001 - a plugged-in transport's own error: no answer
            outcome = "transport_error"
            raise RpcTransportError(
                f"{name}: {method} got no answer ({type(exc).__name__})",
                provider=name,
                method=method,
                failure=Failure(FailureKind.NETWORK, type(exc).__name__),
                timeout=False,
                delivered=True,
            ) from None
        finally:
            self._metrics.requests.labels(name, method, outcome).inc()
            self._metrics.duration.labels(name, method).observe(self._clock.monotonic() - started)

    def _result(self, name: str, method: str, reply: HttpReply) -> Any:
        retry_after_s = parse_retry_after(reply.headers.get("retry-after"), self._clock.now())
        body = _json(reply.body)
        error = body.get("error") if isinstance(body, dict) else None
        if reply.status != 200:
            code, message = _code_message(error)
            failure = classify_rpc_error(
                code, message, None, http_status=reply.status, retry_after_s=retry_after_s
            )
            raise RpcHttpError(
                f"{name}: {method} answered HTTP {reply.status}",
                provider=name,
                method=method,
                failure=failure,
                status=reply.status,
            )
        if not isinstance(body, dict) or ("result" not in body and not isinstance(error, dict)):
            raise RpcProtocolError(
                f"{name}: {method} answered something that is not JSON-RPC",
                provider=name,
                method=method,
                failure=Failure(FailureKind.SERVER_ERROR, "not a JSON-RPC response"),
            )
        if isinstance(error, dict):
            code, message = _code_message(error)
            data = error.get("data")
            failure = classify_rpc_error(code, message, data, retry_after_s=retry_after_s)
            raise RpcResponseError(
                f"{name}: {method} failed: {code} {message}",
                provider=name,
                method=method,
                failure=failure,
                code=code,
                data=data,
            )
        return body["result"]


def _healthy(member: _Member) -> bool:
    return member.last_sample_ok and not member.demoted and member.breaker.state_name not in _OPEN


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _code_message(error: Any) -> tuple[int | None, str]:
    if not isinstance(error, dict):
        return None, ""
    code = error.get("code")
    return (code if isinstance(code, int) else None), str(error.get("message", ""))


def _outcome(exc: RpcError) -> str:
    kind = exc.failure.kind
    if kind is FailureKind.RATE_LIMITED:
        return "rate_limited"
    if kind is FailureKind.NODE_UNHEALTHY:
        return "unhealthy"
    if isinstance(exc, RpcHttpError):
        return "http_error"
    if isinstance(exc, RpcProtocolError):
        return "protocol_error"
    return "error"


def _surely_unseen(exc: RpcError) -> bool:
    """Return whether the endpoint surely did not take the request (safe to send elsewhere)."""
    if isinstance(exc, RpcTransportError):
        return not exc.delivered
    return exc.failure.kind in _REFUSED_UNSEEN


def _outcome_unknown(exc: RpcError) -> RpcOutcomeUnknownError:
    message = (
        f"{exc}; the transaction may have been received: check its signature's status "
        "before sending it again"
    )
    return RpcOutcomeUnknownError(
        message,
        provider=exc.provider,
        method=exc.method,
        failure=Failure(FailureKind.OUTCOME_UNKNOWN, message, exc.failure.code),
    )


def _reason(exc: BaseException) -> str:
    if isinstance(exc, RpcError):
        return exc.failure.kind.value
    return type(exc).__name__
