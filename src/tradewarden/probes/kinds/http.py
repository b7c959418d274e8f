"""HTTP(S) monitors: status, body keyword, a JSON value, response time, certificate expiry.

A check reads at most ``max_body_bytes`` of the body, so a runaway endpoint cannot fill
memory, and judges what it read. The verdict is a pure function of what was observed and
the clock (``_judge``); the I/O around it only gathers the observation.
"""

from __future__ import annotations

import asyncio
import json
import operator
import re
import socket
import ssl
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import aiohttp
import httpx
from cryptography import x509
from pydantic import ConfigDict, Field, ValidationInfo, field_validator

from tradewarden.clock import utc_datetime
from tradewarden.probes._model import Probe, ProbeContext, ProbeResult, Sample
from tradewarden.probes._spec import MonitorSpec
from tradewarden.probes._web import new_web_session
from tradewarden.telemetry import redact_text, redact_url

__all__ = ["HttpSpec"]

HttpMethod = Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
JsonCompare = Literal["==", "!=", "<", "<=", ">", ">="]
StatusCode = Annotated[int, Field(ge=100, le=599)]
JsonPathStep = str | int

_DAY_S = 86_400.0
_X509_V_ERR_CERT_HAS_EXPIRED = 10  # OpenSSL's verify code for "certificate has expired"
_STATUS_HELP = "HTTP status code of the response (0 without one)."
_HEADER_NAME_RE = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_ORDERINGS: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


class HttpSpec(MonitorSpec):
    """Check an HTTP(S) endpoint: status range, body content, response time, certificate."""

    # The URL, headers and body may carry credentials: keep them out of validation errors.
    model_config = ConfigDict(hide_input_in_errors=True)

    kind: Literal["http"] = "http"
    url: str = Field(max_length=8_192)
    method: HttpMethod = "GET"
    headers: dict[str, str] = Field(default_factory=dict, max_length=100, repr=False)
    body: str | None = Field(default=None, repr=False)
    expect_status: tuple[StatusCode, StatusCode] = (200, 299)
    keyword: str | None = Field(default=None, min_length=1)
    keyword_absent: str | None = Field(default=None, min_length=1)
    json_path: str | None = Field(default=None, min_length=1, max_length=500)
    json_equals: Any | None = None
    json_compare: JsonCompare | None = None
    # Checked even when left out: an ordering comparison needs a value.
    json_value: float | str | bool | None = Field(default=None, validate_default=True)
    slow_ms: float | None = Field(default=None, gt=0)
    max_body_bytes: int = Field(default=1_048_576, ge=1, le=64 * 1_048_576)
    verify_tls: bool = True
    ca_file: Path | None = None
    cert_expiry_warn_days: float = Field(default=14, ge=0)
    cert_expiry_fail_days: float = Field(default=0, ge=0)
    follow_redirects: bool = True

    # Cross-field checks are field validators on the later field, reading the earlier
    # ones from ``info.data``: the error's loc then names the field at fault. A field
    # that failed its own validation is absent from ``info.data`` and is not blamed twice.

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        try:
            url = httpx.URL(value)
        except httpx.InvalidURL:
            raise ValueError("url is not a valid URL") from None
        if url.scheme not in {"http", "https"}:
            raise ValueError(f"url scheme must be http or https, not {url.scheme or 'none'!r}")
        if not url.host:
            raise ValueError("url has no host")
        return value

    @field_validator("method", mode="before")
    @classmethod
    def _upper_method(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("headers")
    @classmethod
    def _valid_headers(cls, value: dict[str, str]) -> dict[str, str]:
        for name, item in value.items():
            if not _HEADER_NAME_RE.fullmatch(name):
                raise ValueError(f"header name {name!r} is not a valid HTTP token")
            if any(char in item for char in "\r\n\0"):
                # Name only: the value may be a secret.
                raise ValueError(f"header {name!r} has a line break or NUL in its value")
        return value

    @field_validator("expect_status")
    @classmethod
    def _status_range_ordered(cls, value: tuple[int, int]) -> tuple[int, int]:
        if value[0] > value[1]:
            raise ValueError(f"expect_status range {value[0]}-{value[1]} is out of order")
        return value

    @field_validator("keyword", "keyword_absent", "json_path")
    @classmethod
    def _needs_body(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and info.data.get("method") == "HEAD":
            raise ValueError(f"{info.field_name} needs a response body, and HEAD has none")
        if value is not None and info.field_name == "json_path":
            parse_json_path(value)
        return value

    @field_validator("json_equals")
    @classmethod
    def _equals_needs_path(cls, value: Any, info: ValidationInfo) -> Any:
        if value is not None and _unset(info, "json_path"):
            raise ValueError("json_equals needs json_path")
        return value

    @field_validator("json_compare")
    @classmethod
    def _compare_needs_path(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and _unset(info, "json_path"):
            raise ValueError("json_compare needs json_path")
        if value is not None and info.data.get("json_equals") is not None:
            raise ValueError("set json_compare or json_equals, not both")
        return value

    @field_validator("json_value")
    @classmethod
    def _value_fits_compare(
        cls, value: float | str | bool | None, info: ValidationInfo
    ) -> float | str | bool | None:
        if "json_compare" not in info.data:
            return value
        compare = info.data["json_compare"]
        if value is not None and compare is None:
            raise ValueError("json_value needs json_compare")
        if compare in _ORDERINGS and (value is None or isinstance(value, bool)):
            raise ValueError(f"json_compare {compare!r} needs a number or a string json_value")
        return value

    @field_validator("ca_file")
    @classmethod
    def _ca_file_needs_verify(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if value is not None and info.data.get("verify_tls") is False:
            raise ValueError("ca_file has no effect with verify_tls false")
        return value

    @field_validator("cert_expiry_fail_days")
    @classmethod
    def _fail_within_warn(cls, value: float, info: ValidationInfo) -> float:
        warn = info.data.get("cert_expiry_warn_days")
        if warn is not None and value > warn:
            raise ValueError(
                f"cert_expiry_fail_days ({value:g}) must not exceed "
                f"cert_expiry_warn_days ({warn:g})"
            )
        return value

    def __repr_args__(self) -> Iterable[tuple[str | None, Any]]:
        # Specs end up in logs: show the URL without its API key.
        for name, value in super().__repr_args__():
            yield (name, redact_url(value)) if name == "url" else (name, value)

    def build(self) -> Probe:
        return _HttpProbe(self)


def _unset(info: ValidationInfo, name: str) -> bool:
    return name in info.data and info.data[name] is None


# --- JSON paths ------------------------------------------------------------------------
# A dotted path such as ``data.items[0].status``. No library: jsonpath-ng is barely
# maintained and brings a parser generator, where the subset a monitor needs (keys and
# list indexes, no filters or wildcards) is the thirty lines below. Keys holding dots or
# brackets cannot be addressed.

_SEGMENT_RE = re.compile(r"(?P<key>[^.\[\]]*)(?P<indexes>(?:\[-?\d+\])*)")
_INDEX_RE = re.compile(r"-?\d+")


def parse_json_path(path: str) -> tuple[JsonPathStep, ...]:
    """Return the steps of ``path``: keys (str) and list indexes (int)."""
    steps: list[JsonPathStep] = []
    for position, segment in enumerate(path.split(".")):
        match = _SEGMENT_RE.fullmatch(segment)
        # Only the first segment may be a bare index, for a document that is a list.
        if match is None or not (match["key"] or (position == 0 and match["indexes"])):
            raise ValueError(f"json_path {path!r} is not a dotted path like 'data.items[0].status'")
        if match["key"]:
            steps.append(match["key"])
        steps.extend(int(index) for index in _INDEX_RE.findall(match["indexes"]))
    return tuple(steps)


def resolve_json_path(document: Any, steps: tuple[JsonPathStep, ...]) -> tuple[bool, Any]:
    """Return ``(True, value)`` at ``steps`` in ``document``, or ``(False, None)``."""
    node = document
    for step in steps:
        if isinstance(step, int):
            if not isinstance(node, list) or not -len(node) <= step < len(node):
                return False, None
        elif not isinstance(node, dict) or step not in node:
            return False, None
        node = node[step]
    return True, node


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _json_equal(left: Any, right: Any) -> bool:
    # Python's == says True == 1 and 1 == 1.0; JSON keeps booleans apart from numbers.
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if isinstance(left, dict) or isinstance(right, dict):
        return (
            isinstance(left, dict)
            and isinstance(right, dict)
            and left.keys() == right.keys()
            and all(_json_equal(left[key], right[key]) for key in left)
        )
    if isinstance(left, list | tuple) or isinstance(right, list | tuple):
        return (
            isinstance(left, list | tuple)
            and isinstance(right, list | tuple)
            and len(left) == len(right)
            and all(_json_equal(a, b) for a, b in zip(left, right, strict=True))
        )
    return bool(left == right)


def _show(value: Any) -> str:
    """Return ``value`` as an error message shows it: short, strings quoted."""
    if isinstance(value, str):
        return repr(value if len(value) <= 80 else value[:77] + "...")
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    text = json.dumps(value, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


def _check_json(spec: HttpSpec, steps: tuple[JsonPathStep, ...], body: bytes) -> str | None:
    """Return why the JSON check fails, or None when it passes."""
    try:
        document = json.loads(body)
    except json.JSONDecodeError as exc:
        return f"body is not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
    except ValueError:  # bytes that are no UTF-8/16/32 text
        return "body is not JSON (not UTF-8 text)"
    found, actual = resolve_json_path(document, steps)
    if not found:
        return f"JSON path {spec.json_path} not found in the body"
    return _compare_json(spec, actual)


def _compare_json(spec: HttpSpec, actual: Any) -> str | None:
    """Return why ``actual``, the value at the JSON path, fails the check, or None."""
    path = spec.json_path
    if spec.json_equals is not None and not _json_equal(actual, spec.json_equals):
        return f"{path} is {_show(actual)}, expected {_show(spec.json_equals)}"
    compare, expected = spec.json_compare, spec.json_value
    if compare is None:
        return None
    if compare in {"==", "!="}:
        holds = _json_equal(actual, expected) == (compare == "==")
    elif (_is_number(actual) and _is_number(expected)) or (
        isinstance(actual, str) and isinstance(expected, str)
    ):
        holds = _ORDERINGS[compare](actual, expected)
    else:
        kind = "a string" if isinstance(expected, str) else "a number"
        return f"{path} is {_show(actual)}, not {kind} to compare {compare} {_show(expected)}"
    return None if holds else f"{path} is {_show(actual)}, expected {compare} {_show(expected)}"


# --- The verdict -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Observed:
    """What one request saw."""

    status: int
    body: bytes
    truncated: bool
    charset: str | None
    tls: bool
    cert_not_after: float | None  # Unix time
    duration_s: float


def _samples(observed: _Observed) -> tuple[Sample, ...]:
    samples = [
        Sample("probe_http_status_code", observed.status, help=_STATUS_HELP),
        Sample(
            "probe_http_content_length",
            len(observed.body),
            help="Bytes of the response body read (at most max_body_bytes).",
        ),
        Sample(
            "probe_http_duration_seconds",
            observed.duration_s,
            help="Time from sending the request to reading the body.",
        ),
        Sample("probe_http_ssl", 1.0 if observed.tls else 0.0, help="Whether TLS was used."),
    ]
    if observed.cert_not_after is not None:
        samples.append(
            Sample(
                "probe_ssl_earliest_cert_expiry",
                observed.cert_not_after,
                help="When the server's certificate expires (Unix time).",
            )
        )
    return tuple(samples)


def _decode(observed: _Observed) -> str:
    try:
        return observed.body.decode(observed.charset or "utf-8", errors="replace")
    except LookupError:  # a charset Python does not know
        return observed.body.decode("utf-8", errors="replace")


def _failures(
    spec: HttpSpec, steps: tuple[JsonPathStep, ...] | None, observed: _Observed
) -> Iterator[str]:
    """Yield why the response fails the check, most fundamental first."""
    low, high = spec.expect_status
    if not low <= observed.status <= high:
        expected = str(low) if low == high else f"{low}-{high}"
        yield f"status {observed.status}, expected {expected}"
    read = f" (read only the first {len(observed.body)} bytes: max_body_bytes)"
    if spec.keyword is not None or spec.keyword_absent is not None:
        text = _decode(observed)
        if spec.keyword is not None and spec.keyword not in text:
            yield f"keyword {spec.keyword!r} not found in the body" + (
                read if observed.truncated else ""
            )
        if spec.keyword_absent is not None and spec.keyword_absent in text:
            yield f"unwanted keyword {spec.keyword_absent!r} found in the body"
    if steps is not None:
        if observed.truncated:
            yield (
                f"body is longer than max_body_bytes ({spec.max_body_bytes}): "
                f"cannot check JSON path {spec.json_path}"
            )
        elif (error := _check_json(spec, steps, observed.body)) is not None:
            yield error


def _judge(
    spec: HttpSpec, steps: tuple[JsonPathStep, ...] | None, observed: _Observed, now: float
) -> ProbeResult:
    """Return the result of a check that got a response, as of ``now`` (Unix time)."""
    samples = _samples(observed)
    warnings: list[str] = []
    if observed.cert_not_after is not None:
        days = (observed.cert_not_after - now) / _DAY_S
        not_after = utc_datetime(observed.cert_not_after).strftime("%Y-%m-%dT%H:%M:%SZ")
        if days < 0:
            error = f"TLS certificate expired {-days:.1f} days ago (not after {not_after})"
            return ProbeResult.failure(error, observed.duration_s, *samples)
        if days <= spec.cert_expiry_fail_days:
            error = (
                f"TLS certificate expires in {days:.1f} days (not after {not_after}), "
                f"within cert_expiry_fail_days ({spec.cert_expiry_fail_days:g})"
            )
            return ProbeResult.failure(error, observed.duration_s, *samples)
        if days <= spec.cert_expiry_warn_days:
            warnings.append(
                f"TLS certificate expires in {days:.1f} days (not after {not_after}), "
                f"within cert_expiry_warn_days ({spec.cert_expiry_warn_days:g})"
            )
    failure = next(_failures(spec, steps, observed), None)
    if failure is not None:
        return ProbeResult.failure(failure, observed.duration_s, *samples)
    elapsed_ms = observed.duration_s * 1000
    if spec.slow_ms is not None and elapsed_ms > spec.slow_ms:
        warnings.append(
            f"response took {elapsed_ms:.0f} ms, slower than slow_ms ({spec.slow_ms:g})"
        )
    return ProbeResult(
        success=True,
        duration_s=observed.duration_s,
        error="; ".join(warnings) or None,
        degraded=bool(warnings),
        samples=samples,
    )


# --- Transport errors ------------------------------------------------------------------


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """Yield ``exc`` and everything that led to it, exception groups included."""
    pending, seen = [exc], set()
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        pending.extend(c for c in (current.__cause__, current.__context__) if c is not None)
        if isinstance(current, aiohttp.ClientConnectorCertificateError):
            pending.append(current.certificate_error)
        elif isinstance(current, aiohttp.ClientConnectorError):
            pending.append(current.os_error)
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)


def _tls_error(causes: list[BaseException]) -> str | None:
    """Return what failed in TLS, or None when TLS is not to blame."""
    # aiohttp's wrappers subclass the ssl errors they wrap: read the originals.
    originals = [cause for cause in causes if not isinstance(cause, aiohttp.ClientError)]
    for cause in originals:
        if isinstance(cause, ssl.SSLCertVerificationError):
            if cause.verify_code == _X509_V_ERR_CERT_HAS_EXPIRED:
                return "TLS certificate expired (verification failed)"
            return f"TLS certificate verification failed: {cause.verify_message}"
    for cause in originals:
        if isinstance(cause, ssl.SSLError):
            return f"TLS handshake failed: {cause.reason or cause}"
    return None


def _describe(exc: BaseException, timeout_s: float) -> str:  # noqa: PLR0911 - one case per kind
    """Return what went wrong in words an operator acts on."""
    causes = list(_causes(exc))
    if (tls := _tls_error(causes)) is not None:
        return tls
    if isinstance(exc, TimeoutError):  # aiohttp's phase timeouts subclass it
        phase = "connect" if isinstance(exc, aiohttp.ConnectionTimeoutError) else "read"
        return f"timed out ({phase}) after {timeout_s:g} s"
    if isinstance(exc, aiohttp.TooManyRedirects):
        return "too many redirects"
    if any(isinstance(cause, ConnectionRefusedError) for cause in causes):
        return "connection refused"
    for cause in causes:
        if isinstance(cause, socket.gaierror):
            return f"DNS lookup failed: {cause.strerror or cause}"
    if isinstance(exc, aiohttp.InvalidURL):
        return f"invalid URL: {type(exc).__name__}"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"connect failed: {exc.os_error.strerror or exc.os_error}"
    detail = str(exc) or type(exc).__name__
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError):
        return f"protocol error: {detail}"
    if isinstance(exc, aiohttp.ClientResponseError):  # a malformed response head
        return f"protocol error: {exc.message or detail}"
    return f"{type(exc).__name__}: {detail}"


# --- The probe -------------------------------------------------------------------------


class _HttpProbe:
    def __init__(self, spec: HttpSpec) -> None:
        self._spec = spec
        self._steps = parse_json_path(spec.json_path) if spec.json_path is not None else None
        self._content = spec.body.encode() if spec.body is not None else None
        # aiohttp takes the TLS settings per request and keys its pool by them, so even a
        # monitor with its own CA shares the session. The CA's context is made once.
        self._ssl: ssl.SSLContext | bool | None = None if spec.verify_tls else False
        self._timeout = aiohttp.ClientTimeout(sock_connect=spec.timeout_s, sock_read=spec.timeout_s)
        self._own_session: aiohttp.ClientSession | None = None

    async def aclose(self) -> None:
        """Close this probe's own session, if it had to make one."""
        session, self._own_session = self._own_session, None
        if session is not None:
            await session.close()

    def _session(self, ctx: ProbeContext) -> aiohttp.ClientSession:
        if ctx.web is not None:
            return ctx.web
        if self._own_session is None:
            self._own_session = new_web_session(max_connections=4)
        return self._own_session

    def _tls(self) -> ssl.SSLContext | bool:
        if self._ssl is None:
            ca_file = self._spec.ca_file
            # Trusts ca_file only, not the system store: that is what a private CA wants.
            self._ssl = True if ca_file is None else ssl.create_default_context(cafile=ca_file)
        return self._ssl

    async def run(self, ctx: ProbeContext) -> ProbeResult:
        spec = self._spec
        started = time.perf_counter()
        try:
            tls = self._tls()
        except OSError as exc:  # ssl.SSLError included
            return ProbeResult.failure(f"cannot load ca_file {spec.ca_file}: {exc}")
        timeout = self._timeout
        if ctx.timeout_s != spec.timeout_s:
            timeout = aiohttp.ClientTimeout(sock_connect=ctx.timeout_s, sock_read=ctx.timeout_s)
        response: aiohttp.ClientResponse | None = None
        try:
            # One deadline for the whole check, as the scheduler enforces it; the phase
            # timeouts below it name what stalled when they fire first.
            async with asyncio.timeout(ctx.timeout_s):
                async with self._session(ctx).request(
                    spec.method,
                    spec.url,
                    headers=spec.headers,
                    data=self._content,
                    allow_redirects=spec.follow_redirects,
                    ssl=tls,
                    timeout=timeout,
                ) as response:
                    der = _peer_certificate(response)
                    body, truncated = await _read_capped(response, spec.max_body_bytes)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            duration_s = time.perf_counter() - started
            if type(exc) is TimeoutError:  # the deadline, not a phase timeout
                phase = "waiting for the response" if response is None else "reading the body"
                description = f"timed out ({phase}) after {ctx.timeout_s:g} s"
            else:
                description = _describe(exc, ctx.timeout_s)
            error = f"{description} ({spec.method} {redact_url(spec.url)})"
            status = Sample("probe_http_status_code", 0, help=_STATUS_HELP)
            return ProbeResult.failure(redact_text(error), duration_s, status)
        duration_s = time.perf_counter() - started
        try:
            cert_not_after = (
                x509.load_der_x509_certificate(der).not_valid_after_utc.timestamp()
                if der is not None
                else None
            )
        except ValueError as exc:
            return ProbeResult.failure(f"unreadable TLS certificate: {exc}", duration_s)
        observed = _Observed(
            status=response.status,
            body=body,
            truncated=truncated,
            charset=response.charset,
            tls=response.url.scheme == "https",
            cert_not_after=cert_not_after,
            duration_s=duration_s,
        )
        return _judge(spec, self._steps, observed, ctx.clock.now())


def _peer_certificate(response: aiohttp.ClientResponse) -> bytes | None:
    """Return the server's certificate (DER), or None without TLS.

    Only the leaf certificate is visible here (``get_verified_chain`` is Python 3.13+), so
    ``probe_ssl_earliest_cert_expiry`` misses an intermediate that expires sooner.
    """
    # aiohttp hands a connection back to its pool as soon as the body is complete (with a
    # small body: before ``request()`` returns), so ``response.connection`` is often None by
    # now; the protocol it read from keeps the transport. Private, hence the getattr: the
    # TLS tests catch an aiohttp release that renames it.
    protocol = getattr(response, "_protocol", None)
    transport = getattr(protocol, "transport", None)
    if transport is None and response.connection is not None:
        transport = response.connection.transport
    ssl_object = transport.get_extra_info("ssl_object") if transport is not None else None
    if ssl_object is None:
        return None
    der: bytes | None = ssl_object.getpeercert(binary_form=True)
    return der


async def _read_capped(response: aiohttp.ClientResponse, limit: int) -> tuple[bytes, bool]:
    """Return up to ``limit`` bytes of the body, and whether there was more.

    Leaving the body unread is safe: aiohttp closes a connection whose body was not read
    to the end instead of returning it to the pool.
    """
    buffer = bytearray()
    async for chunk in response.content.iter_any():
        room = limit - len(buffer)
        if len(chunk) > room:
            buffer += chunk[:room]
            return bytes(buffer), True
        buffer += chunk
    return bytes(buffer), False
