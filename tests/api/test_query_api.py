"""Prometheus's HTTP query API on the warden: the shapes Grafana and scripts read."""

from __future__ import annotations

import base64
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradewarden.api import create_app
from tradewarden.api.routers.query import format_value, get_storage, get_targets
from tradewarden.auth import Role
from tradewarden.runtime import SYSTEM, Runtime
from tradewarden.series import Labels, ListStorage

T0 = 1_700_000_000  # seconds


def _storage() -> ListStorage:
    storage = ListStorage()
    for i in range(61):  # every 10 s for 10 minutes
        t = (T0 + 10 * i) * 1000
        storage.append(
            Labels.of(__name__="http_requests_total", job="bot", status="200"), t, 10.0 * i
        )
        storage.append(
            Labels.of(__name__="http_requests_total", job="bot", status="500"), t, 1.0 * i
        )
        storage.append(Labels.of(__name__="queue_jobs", queue="orders"), t, 5.0)
    storage.append(Labels.of(__name__="odd", job="bot"), T0 * 1000, math.nan)
    return storage


@dataclass
class _Target:
    job: str = "bot"
    url: str = "http://127.0.0.1:9100/metrics"
    labels: dict[str, str] = field(
        default_factory=lambda: {"job": "bot", "instance": "127.0.0.1:9100"}
    )
    health: str = "up"
    last_error: str = ""
    last_scrape: float | None = float(T0)
    last_scrape_duration_s: float = 0.012
    scrape_interval_s: float = 5.0
    scrape_timeout_s: float = 2.5


class _Scrapes:
    def targets(self) -> list[_Target]:
        return [_Target()]


@pytest.fixture
async def api(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(runtime, manage_runtime=False)
    storage = _storage()

    async def storage_override() -> ListStorage:
        return storage

    async def targets_override() -> _Scrapes:
        return _Scrapes()

    app.dependency_overrides[get_storage] = storage_override
    app.dependency_overrides[get_targets] = targets_override
    key = await runtime.auth.create_api_key("grafana", Role.VIEWER, actor=SYSTEM)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40010))
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://warden",
        headers={"Authorization": f"Bearer {key.key}"},
    ) as http:
        yield http


async def _ok(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "success", body
    return body


async def test_instant_query_answers_a_vector_in_prometheus_shape(
    api: httpx.AsyncClient,
) -> None:
    response = await api.get(
        "/api/v1/query", params={"query": "sum by (status) (http_requests_total)", "time": T0 + 600}
    )
    body = await _ok(response)
    assert body == {
        "status": "success",
        "data": {
            "resultType": "vector",
            "result": [
                {"metric": {"status": "200"}, "value": [T0 + 600, "600"]},
                {"metric": {"status": "500"}, "value": [T0 + 600, "60"]},
            ],
        },
    }


async def test_time_is_rfc3339_or_unix_seconds_with_milliseconds(api: httpx.AsyncClient) -> None:
    rfc = await _ok(
        await api.get(
            "/api/v1/query", params={"query": "queue_jobs", "time": "2023-11-14T22:13:20.5Z"}
        )
    )
    assert rfc["data"]["result"] == [
        {"metric": {"__name__": "queue_jobs", "queue": "orders"}, "value": [T0 + 0.5, "5"]}
    ]
    unix = await _ok(
        await api.get("/api/v1/query", params={"query": "queue_jobs", "time": f"{T0}.5"})
    )
    assert unix["data"] == rfc["data"]


async def test_scalars_strings_and_special_values(api: httpx.AsyncClient) -> None:
    scalar = await _ok(await api.get("/api/v1/query", params={"query": "1/0", "time": T0}))
    assert scalar["data"] == {"resultType": "scalar", "result": [T0, "+Inf"]}
    string = await _ok(await api.get("/api/v1/query", params={"query": '"hi"', "time": T0}))
    assert string["data"] == {"resultType": "string", "result": [T0, "hi"]}
    nan = await _ok(await api.get("/api/v1/query", params={"query": "odd", "time": T0}))
    assert nan["data"]["result"][0]["value"] == [T0, "NaN"]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1.0, "1"),
        (0.1, "0.1"),
        (-0.0, "-0"),
        (1e21, "1000000000000000000000"),
        (1.5e-7, "0.00000015"),
        (123456.789, "123456.789"),
        (-math.inf, "-Inf"),
    ],
)
def test_values_are_written_as_go_writes_them(value: float, text: str) -> None:
    assert format_value(value) == text


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_a_written_value_reads_back_exactly_without_an_exponent(value: float) -> None:
    text = format_value(value)
    assert float(text) == value
    assert "e" not in text.lower()


async def test_range_query_answers_a_matrix(api: httpx.AsyncClient) -> None:
    params = {
        "query": 'rate(http_requests_total{status="500"}[1m])',
        "start": T0 + 300,
        "end": T0 + 360,
    }
    by_duration = await _ok(await api.get("/api/v1/query_range", params={**params, "step": "30s"}))
    by_float = await _ok(await api.get("/api/v1/query_range", params={**params, "step": "30"}))
    assert by_duration == by_float
    assert by_duration["data"] == {
        "resultType": "matrix",
        "result": [
            {
                "metric": {"job": "bot", "status": "500"},
                "values": [[T0 + 300, "0.1"], [T0 + 330, "0.1"], [T0 + 360, "0.1"]],
            }
        ],
    }


async def test_form_encoded_post_takes_the_same_parameters(api: httpx.AsyncClient) -> None:
    get = await _ok(await api.get("/api/v1/query", params={"query": "queue_jobs", "time": T0}))
    post = await _ok(await api.post("/api/v1/query", data={"query": "queue_jobs", "time": T0}))
    assert post == get
    ranged = await _ok(
        await api.post(
            "/api/v1/query_range",
            data={"query": "queue_jobs", "start": T0, "end": T0 + 20, "step": 10},
        )
    )
    assert ranged["data"]["result"][0]["values"] == [[T0, "5"], [T0 + 10, "5"], [T0 + 20, "5"]]


@pytest.mark.parametrize(
    ("path", "params", "message"),
    [
        ("/api/v1/query", {"query": "sum("}, 'invalid parameter "query": '),
        (
            "/api/v1/query",
            {"query": "up", "time": "soon"},
            'invalid parameter "time": cannot parse "soon" to a valid timestamp',
        ),
        (
            "/api/v1/query_range",
            {"query": "up", "start": T0, "end": T0 + 60, "step": "often"},
            'invalid parameter "step": cannot parse "often" to a valid duration',
        ),
        (
            "/api/v1/query_range",
            {"query": "up", "start": T0, "end": T0 + 60, "step": "0"},
            "zero or negative query resolution step widths are not accepted",
        ),
        (
            "/api/v1/query_range",
            {"query": "up", "start": T0 + 60, "end": T0, "step": "1"},
            "end timestamp must not be before start time",
        ),
        (
            "/api/v1/query_range",
            {"query": "up", "start": T0, "end": T0 + 11_001, "step": "1"},
            "exceeded maximum resolution of 11,000 points per timeseries",
        ),
        ("/api/v1/query_range", {"query": "up", "start": T0, "end": T0 + 60}, '"step"'),
        ("/api/v1/label/1bad/values", {}, 'invalid label name: "1bad"'),
        ("/api/v1/series", {}, "no match[] parameter provided"),
    ],
)
async def test_bad_input_is_a_400_bad_data(
    api: httpx.AsyncClient, path: str, params: dict[str, Any], message: str
) -> None:
    response = await api.get(path, params=params)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["status"] == "error"
    assert body["errorType"] == "bad_data"
    assert message in body["error"]


async def test_eleven_thousand_points_are_allowed(api: httpx.AsyncClient) -> None:
    params = {"query": "vector(1)", "start": T0, "end": T0 + 11_000, "step": "1"}
    body = await _ok(await api.get("/api/v1/query_range", params=params))
    assert len(body["data"]["result"][0]["values"]) == 11_001


async def test_an_execution_error_is_a_422(api: httpx.AsyncClient) -> None:
    # Both series get status="x": the result would hold one label set twice.
    query = "label_replace(http_requests_total, 'status', 'x', '', '')"
    response = await api.get("/api/v1/query", params={"query": query, "time": T0 + 600})
    assert response.status_code == 422, response.text
    assert response.json()["errorType"] == "execution"


async def test_a_query_past_its_timeout_is_a_503(api: httpx.AsyncClient) -> None:
    response = await api.get(
        "/api/v1/query", params={"query": "queue_jobs", "time": T0, "timeout": "0"}
    )
    assert response.status_code == 503, response.text
    assert response.json() == {
        "status": "error",
        "errorType": "timeout",
        "error": "query timed out in query execution (0s)",
    }


async def test_an_api_key_works_as_bearer_and_as_basic_auth_password(
    runtime: Runtime, api: httpx.AsyncClient
) -> None:
    key = await runtime.auth.create_api_key("script", Role.VIEWER, actor=SYSTEM)
    basic = base64.b64encode(f"grafana:{key.key}".encode()).decode()
    params = {"query": "queue_jobs", "time": T0}
    ok = await api.get("/api/v1/query", params=params, headers={"Authorization": f"Basic {basic}"})
    assert ok.status_code == 200, ok.text
    by_header = await api.get(
        "/api/v1/query", params=params, headers={"Authorization": "", "X-API-Key": key.key}
    )
    assert by_header.status_code == 200, by_header.text
    wrong = base64.b64encode(b"grafana:tw_000000000000_nope").decode()
    refused = await api.get(
        "/api/v1/query", params=params, headers={"Authorization": f"Basic {wrong}"}
    )
    assert refused.status_code == 401
    anonymous = await api.get("/api/v1/query", params=params, headers={"Authorization": ""})
    assert anonymous.status_code == 401


async def test_without_a_store_the_api_is_unavailable(runtime: Runtime) -> None:
    app = create_app(runtime, manage_runtime=False)

    async def no_store() -> None:
        return None

    app.dependency_overrides[get_storage] = no_store
    key = await runtime.auth.create_api_key("grafana", Role.VIEWER, actor=SYSTEM)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40011))
    async with httpx.AsyncClient(transport=transport, base_url="http://warden") as http:
        response = await http.get(
            "/api/v1/query", params={"query": "up"}, headers={"X-API-Key": key.key}
        )
    assert response.status_code == 503
    assert response.json()["errorType"] == "unavailable"


async def test_labels_values_and_series(api: httpx.AsyncClient) -> None:
    names = await _ok(await api.get("/api/v1/labels"))
    assert names["data"] == ["__name__", "job", "queue", "status"]
    matched = await _ok(await api.post("/api/v1/labels", data={"match[]": "queue_jobs"}))
    assert matched["data"] == ["__name__", "queue"]
    metrics = await _ok(await api.get("/api/v1/label/__name__/values"))
    assert metrics["data"] == ["http_requests_total", "odd", "queue_jobs"]
    statuses = await _ok(
        await api.get("/api/v1/label/status/values", params={"match[]": "http_requests_total"})
    )
    assert statuses["data"] == ["200", "500"]
    series = await _ok(
        await api.get(
            "/api/v1/series",
            params=[("match[]", 'http_requests_total{status="500"}'), ("match[]", "queue_jobs")],
        )
    )
    assert series["data"] == [
        {"__name__": "http_requests_total", "job": "bot", "status": "500"},
        {"__name__": "queue_jobs", "queue": "orders"},
    ]
    ranged = await _ok(
        await api.get(
            "/api/v1/series",
            params={"match[]": "odd", "start": T0 + 1, "end": T0 + 60},
        )
    )
    assert ranged["data"] == []


async def test_what_grafana_asks_besides(api: httpx.AsyncClient) -> None:
    assert (await _ok(await api.get("/api/v1/metadata")))["data"] == {}
    build = await _ok(await api.get("/api/v1/status/buildinfo"))
    assert build["data"]["version"] == "2.42.0"
    assert build["data"]["revision"].startswith("tradewarden-")
    targets = await _ok(await api.get("/api/v1/targets"))
    assert targets["data"] == {
        "activeTargets": [
            {
                "discoveredLabels": {
                    "__address__": "127.0.0.1:9100",
                    "__scheme__": "http",
                    "job": "bot",
                },
                "labels": {"job": "bot", "instance": "127.0.0.1:9100"},
                "scrapePool": "bot",
                "scrapeUrl": "http://127.0.0.1:9100/metrics",
                "globalUrl": "http://127.0.0.1:9100/metrics",
                "lastError": "",
                "lastScrape": "2023-11-14T22:13:20Z",
                "lastScrapeDuration": 0.012,
                "health": "up",
                "scrapeInterval": "5s",
                "scrapeTimeout": "2500ms",
            }
        ],
        "droppedTargets": [],
    }


async def test_the_runtime_store_and_scrapes_are_read(runtime: Runtime) -> None:
    runtime.series.append(Labels.of(__name__="bot_up", job="bot"), T0 * 1000, 1.0)
    key = await runtime.auth.create_api_key("grafana", Role.VIEWER, actor=SYSTEM)
    transport = httpx.ASGITransport(
        app=create_app(runtime, manage_runtime=False), client=("127.0.0.1", 40012)
    )
    async with httpx.AsyncClient(
        transport=transport, base_url="http://warden", headers={"X-API-Key": key.key}
    ) as http:
        body = await _ok(await http.get("/api/v1/query", params={"query": "bot_up", "time": T0}))
        assert body["data"]["result"] == [
            {"metric": {"__name__": "bot_up", "job": "bot"}, "value": [T0, "1"]}
        ]
        targets = (await _ok(await http.get("/api/v1/targets")))["data"]
        # The warden's own registry, read in process.
        assert [t["scrapePool"] for t in targets["activeTargets"]] == ["tradewarden"]
        assert targets["droppedTargets"] == []
