"""Prometheus's HTTP query API over the warden's series store, for Grafana and scripts.

``/api/v1/query``, ``/api/v1/query_range``, and what Grafana's Prometheus data source
calls besides: labels, label values, series, metadata, build info, targets. Responses are
Prometheus's (``{"status": "success", "data": ...}``, sample values as strings, errors as
``{"status": "error", "errorType": ..., "error": ...}``), so clients of Prometheus read
them unchanged. GET and form-encoded POST take the same parameters.

Viewer role. Grafana and scripts authenticate with ``Authorization: Bearer <API key or
token>``, ``X-API-Key``, or basic auth whose password is an API key (Grafana's "Basic
auth" fields; the user name is not checked, the key decides who calls).

The evaluator runs on the event loop's thread (the store is single-threaded) and cannot
be interrupted: ``timeout`` is checked when the query has read its data and when it is
done, and a query past it answers 503 ``timeout`` as Prometheus does.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Protocol
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from tradewarden._version import __version__
from tradewarden.auth import Principal, Role
from tradewarden.errors import AuthError, PermissionDeniedError
from tradewarden.promql import Engine, Matrix, QueryError, Scalar, String, Value, Vector
from tradewarden.promql._ast import VectorSel, compile_expr, parse
from tradewarden.rules import parse_duration_ms as rule_duration_ms
from tradewarden.runtime import Runtime
from tradewarden.series import (
    METRIC_NAME,
    LabelMatcher,
    Labels,
    MatchOp,
    Queryable,
    SeriesData,
)

__all__ = ["MAX_POINTS", "Params", "get_storage", "get_targets", "router"]

router = APIRouter(prefix="/api/v1", tags=["query"])

MAX_POINTS = 11_000
DEFAULT_TIMEOUT_S = 120.0
# Prometheus's own bounds for a time nobody gave (``minTime``/``maxTime`` in web/api/v1).
_MIN_MS = -9223372036854775 // 1000 * 1000
_MAX_MS = 9223372036854775 // 1000 * 1000
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
# What Grafana reads to pick its query features: the Prometheus release whose semantics
# the engine is checked against, plus tradewarden's own version.
_BUILD_INFO = {
    "version": "2.42.0",
    "revision": f"tradewarden-{__version__}",
    "branch": "tradewarden",
    "buildUser": "tradewarden",
    "buildDate": "",
    "goVersion": "",
}


class Targets(Protocol):
    """The scrape manager, as far as ``/api/v1/targets`` reads it."""

    def targets(self) -> Sequence[Any]:
        """Return each target's health (job, url, labels, health, last error, ...)."""
        ...


class ApiError(Exception):
    """An error answered in Prometheus's shape."""

    def __init__(self, error_type: str, message: str, status: int) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.status = status


def _bad(message: str) -> ApiError:
    return ApiError("bad_data", message, 400)


# -- dependencies ----------------------------------------------------------------------


async def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def _credential(request: Request) -> str:
    authorization = request.headers.get("authorization")
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                raise AuthError("malformed basic auth") from None
            _user, _, password = decoded.partition(":")
            if password:
                return password
        raise AuthError("use 'Authorization: Bearer <API key>' or basic auth with an API key")
    api_key = request.headers.get("x-api-key")
    if api_key:
        return api_key.strip()
    raise AuthError("authentication required")


async def _viewer(request: Request, runtime: Annotated[Runtime, Depends(_runtime)]) -> Principal:
    principal = await runtime.auth.authenticate(_credential(request))
    request.state.principal = principal
    if not principal.role.allows(Role.VIEWER):
        raise PermissionDeniedError(f"this needs the {Role.VIEWER.label} role")
    return principal


async def get_storage(runtime: Annotated[Runtime, Depends(_runtime)]) -> Queryable | None:
    """Return the series store queries read (None: answer 503 ``unavailable``)."""
    return runtime.series


async def get_targets(runtime: Annotated[Runtime, Depends(_runtime)]) -> Targets | None:
    """Return the scrape manager (None: no targets)."""
    return runtime.scrapes


async def _now_ms(runtime: Annotated[Runtime, Depends(_runtime)]) -> int:
    return round(runtime.clock.now() * 1000)


class Params:
    """The query string and, for a form-encoded POST, the form (as Go's ``FormValue``)."""

    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        self._values: dict[str, list[str]] = {}
        for key, value in pairs:
            self._values.setdefault(key, []).append(value)

    def get(self, name: str) -> str | None:
        """Return the first value of ``name``."""
        values = self._values.get(name)
        return values[0] if values else None

    def getlist(self, name: str) -> list[str]:
        """Return every value of ``name``."""
        return list(self._values.get(name, ()))


async def _params(request: Request) -> Params:
    pairs = list(request.query_params.multi_items())
    if request.method == "POST":
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type == "application/x-www-form-urlencoded":
            body = (await request.body()).decode("utf-8", errors="replace")
            pairs = parse_qsl(body, keep_blank_values=True) + pairs
    return Params(pairs)


ViewerDep = Annotated[Principal, Depends(_viewer)]
ParamsDep = Annotated[Params, Depends(_params)]
StorageDep = Annotated[Queryable | None, Depends(get_storage)]
NowDep = Annotated[int, Depends(_now_ms)]


def _storage(storage: Queryable | None) -> Queryable:
    if storage is None:
        raise ApiError("unavailable", "the series store is not running", 503)
    return storage


# -- parameters ------------------------------------------------------------------------


def parse_time_ms(text: str, name: str) -> int:
    """Return a time given as Unix seconds (``1700000000.5``) or RFC 3339, in ms."""
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        if math.isfinite(seconds):
            return round(seconds * 1000)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise _bad(
            f'invalid parameter "{name}": cannot parse "{text}" to a valid timestamp'
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return round(moment.timestamp() * 1000)


def parse_duration_ms(text: str, name: str) -> int:
    """Return a duration given as seconds (``15``, ``0.5``) or Prometheus's ``1m30s``."""
    try:
        seconds = float(text)
    except ValueError:
        try:
            return rule_duration_ms(text)
        except ValueError:
            pass
    else:
        if math.isfinite(seconds) and abs(seconds * 1000) < 2**63:
            return round(seconds * 1000)
    raise _bad(f'invalid parameter "{name}": cannot parse "{text}" to a valid duration')


def _time(params: Params, name: str, default: int) -> int:
    text = params.get(name)
    return default if text in (None, "") else parse_time_ms(text, name)


def _timeout_s(params: Params) -> float:
    text = params.get("timeout")
    if text in (None, ""):
        return DEFAULT_TIMEOUT_S
    return parse_duration_ms(text, "timeout") / 1000


def _selectors(params: Params) -> list[tuple[LabelMatcher, ...]]:
    found: list[tuple[LabelMatcher, ...]] = []
    for text in params.getlist("match[]"):
        try:
            node = compile_expr(parse(text))
        except QueryError as exc:
            raise _bad(f'invalid parameter "match[]": {exc}') from None
        if not isinstance(node, VectorSel):
            raise _bad(f'invalid parameter "match[]": {text} is not a series selector')
        found.extend(node.alternatives)
    return found


# -- formatting ------------------------------------------------------------------------


def format_value(value: float) -> str:
    """Return a sample value as Prometheus writes it (Go's shortest ``'f'`` format)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    text = repr(value)
    if "e" not in text:  # the common case, without Decimal: "12.5", "3.0" -> "3"
        return text.removesuffix(".0")
    return format(Decimal(text).normalize(), "f")


def format_time(t_ms: int) -> float | int:
    """Return a time in Unix seconds, as a JSON number with millisecond precision."""
    return t_ms // 1000 if t_ms % 1000 == 0 else t_ms / 1000


def _metric(labels: Labels) -> dict[str, str]:
    return labels.to_dict()


def result_json(value: Value) -> dict[str, Any]:
    """Return ``data`` of a query response: ``resultType`` and ``result``."""
    if isinstance(value, Vector):
        return {
            "resultType": "vector",
            "result": [
                {"metric": _metric(s.labels), "value": [format_time(s.t), format_value(s.v)]}
                for s in value
            ],
        }
    if isinstance(value, Matrix):
        return {
            "resultType": "matrix",
            "result": [
                {
                    "metric": _metric(series.labels),
                    "values": [
                        [format_time(t), format_value(v)]
                        for t, v in zip(series.ts, series.vs, strict=True)
                    ],
                }
                for series in value
            ],
        }
    if isinstance(value, Scalar):
        return {"resultType": "scalar", "result": [format_time(value.t), format_value(value.v)]}
    if isinstance(value, String):
        return {"resultType": "string", "result": [format_time(value.t), value.v]}
    raise TypeError(f"unexpected query value {type(value).__name__}")


def _success(data: Any, warnings: Sequence[str] = (), infos: Sequence[str] = ()) -> JSONResponse:
    body: dict[str, Any] = {"status": "success", "data": data}
    if warnings:
        body["warnings"] = list(warnings)
    if infos:
        body["infos"] = list(infos)
    return JSONResponse(body)


def _error(error: ApiError) -> JSONResponse:
    return JSONResponse(
        {"status": "error", "errorType": error.error_type, "error": error.message},
        status_code=error.status,
    )


def _answer(
    handler: Callable[..., Awaitable[JSONResponse]],
) -> Callable[..., Awaitable[JSONResponse]]:
    """Turn an ApiError raised by ``handler`` into Prometheus's error body."""

    async def run(*args: Any, **kwargs: Any) -> JSONResponse:
        try:
            return await handler(*args, **kwargs)
        except ApiError as error:
            return _error(error)

    return run


# -- evaluation ------------------------------------------------------------------------


class _Deadline:
    """A storage wrapper that stops a query reading data once its time is up."""

    def __init__(self, storage: Queryable, timeout_s: float) -> None:
        self._storage = storage
        self._deadline = time.monotonic() + timeout_s
        self._timeout_s = timeout_s

    def check(self) -> None:
        if time.monotonic() > self._deadline:
            raise ApiError(
                "timeout", f"query timed out in query execution ({self._timeout_s:g}s)", 503
            )

    def select(
        self, matchers: Sequence[LabelMatcher], start_ms: int, end_ms: int
    ) -> Iterable[SeriesData]:
        self.check()
        return self._storage.select(matchers, start_ms, end_ms)


def _evaluate(
    storage: Queryable, params: Params, run: Callable[[Engine, Any], Any]
) -> JSONResponse:
    text = params.get("query") or ""
    try:
        expr = parse(text)
    except QueryError as exc:
        raise _bad(f'invalid parameter "query": {exc}') from None
    deadline = _Deadline(storage, _timeout_s(params))
    try:
        result = run(Engine(deadline), expr)
    except QueryError as exc:
        raise ApiError("execution", str(exc), 422) from None
    deadline.check()
    return _success(
        result_json(result.value), result.annotations.warnings, result.annotations.infos
    )


@_answer
async def _query(params: Params, storage: Queryable | None, now_ms: int) -> JSONResponse:
    t_ms = _time(params, "time", now_ms)
    return _evaluate(_storage(storage), params, lambda engine, expr: engine.instant(expr, t_ms))


@_answer
async def _query_range(params: Params, storage: Queryable | None) -> JSONResponse:
    for name in ("start", "end", "step"):
        if params.get(name) in (None, ""):
            raise _bad(
                f'invalid parameter "{name}": cannot parse "" to a valid '
                + ("duration" if name == "step" else "timestamp")
            )
    start = parse_time_ms(params.get("start") or "", "start")
    end = parse_time_ms(params.get("end") or "", "end")
    if end < start:
        raise _bad('invalid parameter "end": end timestamp must not be before start time')
    step = parse_duration_ms(params.get("step") or "", "step")
    if step <= 0:
        raise _bad(
            'invalid parameter "step": zero or negative query resolution step widths are not '
            "accepted. Try a positive integer"
        )
    if (end - start) // step > MAX_POINTS:
        raise _bad(
            "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the "
            "query resolution (?step=XX)"
        )
    return _evaluate(
        _storage(storage), params, lambda engine, expr: engine.range(expr, start, end, step)
    )


@router.get("/query", summary="Instant query (Prometheus API)")
async def query_get(
    _: ViewerDep, params: ParamsDep, storage: StorageDep, now_ms: NowDep
) -> JSONResponse:
    """Evaluate ``query`` at ``time`` (default: now)."""
    return await _query(params, storage, now_ms)


@router.post("/query", summary="Instant query (Prometheus API, form-encoded)")
async def query_post(
    _: ViewerDep, params: ParamsDep, storage: StorageDep, now_ms: NowDep
) -> JSONResponse:
    """Evaluate ``query`` at ``time`` (default: now)."""
    return await _query(params, storage, now_ms)


@router.get("/query_range", summary="Range query (Prometheus API)")
async def query_range_get(_: ViewerDep, params: ParamsDep, storage: StorageDep) -> JSONResponse:
    """Evaluate ``query`` at every ``step`` from ``start`` to ``end``."""
    return await _query_range(params, storage)


@router.post("/query_range", summary="Range query (Prometheus API, form-encoded)")
async def query_range_post(_: ViewerDep, params: ParamsDep, storage: StorageDep) -> JSONResponse:
    """Evaluate ``query`` at every ``step`` from ``start`` to ``end``."""
    return await _query_range(params, storage)


# -- series metadata -------------------------------------------------------------------


def _matching_labels(storage: Queryable, params: Params) -> list[Labels]:
    """The label sets of the series ``match[]`` selects within ``start``/``end``."""
    selectors = _selectors(params)
    start = _time(params, "start", _MIN_MS)
    end = _time(params, "end", _MAX_MS)
    seen: dict[Labels, None] = {}
    ranged = params.get("start") not in (None, "") or params.get("end") not in (None, "")
    index = getattr(storage, "series_labels", None)
    for matchers in selectors:
        if index is not None and not ranged:
            found: Iterable[Labels] = index(matchers)
        else:
            found = (data.labels for data in storage.select(matchers, start, end))
        for labels in found:
            seen.setdefault(labels, None)
    return list(seen)


def _everything(storage: Queryable) -> list[Labels]:
    matcher = LabelMatcher(METRIC_NAME, MatchOp.REGEX, ".+")
    return [data.labels for data in storage.select([matcher], _MIN_MS, _MAX_MS)]


@_answer
async def _labels(params: Params, storage: Queryable | None) -> JSONResponse:
    store = _storage(storage)
    if params.getlist("match[]"):
        names = {name for labels in _matching_labels(store, params) for name, _ in labels}
    elif hasattr(store, "label_names"):
        names = set(store.label_names())
    else:
        names = {name for labels in _everything(store) for name, _ in labels}
    return _success(sorted(names))


@_answer
async def _label_values(name: str, params: Params, storage: Queryable | None) -> JSONResponse:
    if not _LABEL_NAME.match(name):
        raise _bad(f'invalid label name: "{name}"')
    store = _storage(storage)
    if params.getlist("match[]"):
        values = {labels.get(name) for labels in _matching_labels(store, params)}
    elif hasattr(store, "label_values"):
        values = set(store.label_values(name))
    else:
        values = {labels.get(name) for labels in _everything(store)}
    values.discard("")
    return _success(sorted(values))


@_answer
async def _series(params: Params, storage: Queryable | None) -> JSONResponse:
    if not params.getlist("match[]"):
        raise _bad("no match[] parameter provided")
    labels = _matching_labels(_storage(storage), params)
    return _success([_metric(item) for item in sorted(labels)])


@router.get("/labels", summary="Label names (Prometheus API)")
async def labels_get(_: ViewerDep, params: ParamsDep, storage: StorageDep) -> JSONResponse:
    """Return every label name (of the series ``match[]`` selects, if given)."""
    return await _labels(params, storage)


@router.post("/labels", summary="Label names (Prometheus API, form-encoded)")
async def labels_post(_: ViewerDep, params: ParamsDep, storage: StorageDep) -> JSONResponse:
    """Return every label name (of the series ``match[]`` selects, if given)."""
    return await _labels(params, storage)


@router.get("/label/{name}/values", summary="Label values (Prometheus API)")
async def label_values(
    name: str, _: ViewerDep, params: ParamsDep, storage: StorageDep
) -> JSONResponse:
    """Return every value of label ``name`` (``__name__``: the metric names)."""
    return await _label_values(name, params, storage)


@router.get("/series", summary="Series (Prometheus API)")
async def series_get(_: ViewerDep, params: ParamsDep, storage: StorageDep) -> JSONResponse:
    """Return the label sets of the series ``match[]`` selects."""
    return await _series(params, storage)


@router.post("/series", summary="Series (Prometheus API, form-encoded)")
async def series_post(_: ViewerDep, params: ParamsDep, storage: StorageDep) -> JSONResponse:
    """Return the label sets of the series ``match[]`` selects."""
    return await _series(params, storage)


@router.get("/metadata", summary="Metric metadata (Prometheus API)")
async def metadata(_: ViewerDep) -> JSONResponse:
    """Return metric metadata: none is kept (HELP and TYPE are not stored), so ``{}``."""
    return _success({})


@router.get("/query_exemplars", summary="Exemplars (Prometheus API)")
async def query_exemplars(_: ViewerDep) -> JSONResponse:
    """Return exemplars: none are kept, so ``[]``."""
    return _success([])


@router.get("/status/buildinfo", summary="Build information (Prometheus API)")
async def buildinfo(_: ViewerDep) -> JSONResponse:
    """Return the Prometheus version whose API and semantics are served, and ours."""
    return _success(dict(_BUILD_INFO))


def _rfc3339(unix_s: float | None) -> str:
    if unix_s is None:
        return "0001-01-01T00:00:00Z"
    return datetime.fromtimestamp(unix_s, UTC).isoformat().replace("+00:00", "Z")


def _seconds(value: float) -> str:
    ms = round(value * 1000)
    return f"{ms // 1000}s" if ms % 1000 == 0 else f"{ms}ms"


def _target_json(target: Any) -> dict[str, Any]:
    labels = dict(target.labels)
    return {
        "discoveredLabels": {
            "__address__": labels.get("instance", ""),
            "__scheme__": target.url.split("://", 1)[0],
            "job": target.job,
        },
        "labels": labels,
        "scrapePool": target.job,
        "scrapeUrl": target.url,
        "globalUrl": target.url,
        "lastError": target.last_error,
        "lastScrape": _rfc3339(target.last_scrape),
        "lastScrapeDuration": target.last_scrape_duration_s,
        "health": target.health,
        "scrapeInterval": _seconds(target.scrape_interval_s),
        "scrapeTimeout": _seconds(target.scrape_timeout_s),
    }


@router.get("/targets", summary="Scrape targets (Prometheus API)")
async def targets(
    _: ViewerDep, params: ParamsDep, manager: Annotated[Targets | None, Depends(get_targets)]
) -> JSONResponse:
    """Return the scrape targets and their health (none are ever dropped)."""
    state = params.get("state") or "any"
    active = [_target_json(t) for t in manager.targets()] if manager is not None else []
    if state == "dropped":
        active = []
    return _success({"activeTargets": active, "droppedTargets": []})
