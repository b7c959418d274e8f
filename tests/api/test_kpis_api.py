"""GET /v1/kpis and /v1/kpis/weekly-review over a seeded store: the numbers, the window's
validation (the field named), the Markdown review, viewer access."""

from __future__ import annotations

import httpx
import pytest

from kpis.conftest import EXPECTED, seed
from support.http import bearer
from tradewarden.auth import Role
from tradewarden.clock import utc_datetime
from tradewarden.runtime import SYSTEM, Runtime

NOW_S = 1_800_000_000  # the runtime's ManualClock: 2027-01-15 08:00 UTC, in 2027-W02


@pytest.fixture
async def viewer(runtime: Runtime) -> dict[str, str]:
    """Seed the store; return a viewer's headers."""
    await seed(runtime.database, utc_datetime(runtime.clock.now()))
    key = await runtime.auth.create_api_key("viewer", Role.VIEWER, actor=SYSTEM)
    return bearer(key.key)


def _kpi(body: dict[str, object], name: str) -> dict[str, object]:
    kpis = body["kpis"]
    assert isinstance(kpis, list)
    return next(k for k in kpis if k["name"] == name)


async def test_the_last_seven_days_by_default(
    client: httpx.AsyncClient, viewer: dict[str, str]
) -> None:
    response = await client.get("/v1/kpis", headers=viewer)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["window"] == {
        "from": "2027-01-08T08:00:00+00:00",
        "to": "2027-01-15T08:00:00+00:00",
    }
    assert _kpi(body, "mttr")["value"] == pytest.approx(EXPECTED["mttr_s"])
    assert _kpi(body, "mttr")["status"] == "not_met"  # seed 004: under 30 min; it is 30
    assert _kpi(body, "mttd")["value"] == pytest.approx(EXPECTED["mttd_s"])
    assert _kpi(body, "mttd")["status"] == "met"
    assert _kpi(body, "mtta")["value"] == pytest.approx(EXPECTED["mtta_s"])
    assert _kpi(body, "alert_noise")["value"] == 0.5
    assert _kpi(body, "alert_noise")["status"] == "not_met"
    assert _kpi(body, "ack_within_5m")["value"] == 0.25
    assert _kpi(body, "p0p1_resolved_within_2h")["status"] == "met"
    assert body["mttr"]["P0"]["mean_s"] == pytest.approx(EXPECTED["mttr_p0_s"])
    assert body["mttr"]["P1"]["count"] == 1
    assert body["alert_noise"] == {"numerator": 2, "denominator": 4, "ratio": 0.5}
    assert {k: body["incidents"][k] for k in EXPECTED["incidents"]} == EXPECTED["incidents"]
    availability = {a["monitor"]: a for a in body["availability"]}
    assert availability["api"]["ratio"] == pytest.approx(EXPECTED["api_availability"])
    assert availability["api"]["status"] == "not_met"  # 99.40 % < 99.95 %
    assert body["noisiest_alerts"][0] == {"alertname": "BotDown", "notifications": 3}


async def test_a_window_given_in_rfc3339_or_unix_seconds(
    client: httpx.AsyncClient, viewer: dict[str, str]
) -> None:
    day = 24 * 3600
    by_unix = await client.get(
        "/v1/kpis", params={"from": str(NOW_S - day - 60), "to": str(NOW_S)}, headers=viewer
    )
    by_rfc = await client.get(
        "/v1/kpis",
        params={"from": "2027-01-14T07:59:00Z", "to": "2027-01-15T08:00:00+00:00"},
        headers=viewer,
    )
    assert by_unix.status_code == by_rfc.status_code == 200, by_unix.text
    assert by_unix.json()["incidents"] == by_rfc.json()["incidents"]
    assert by_rfc.json()["incidents"]["total"] == 2
    assert _kpi(by_rfc.json(), "mttr")["status"] == "no_data"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2027-01-15T00:00:00Z", "to": "2027-01-14T00:00:00Z"}, "query.to"),
        ({"from": "2025-01-01T00:00:00Z", "to": "2027-01-14T00:00:00Z"}, "query.to"),
        ({"from": "last tuesday"}, "query.from"),
        ({"to": "nan"}, "query.to"),
    ],
)
async def test_a_bad_window_is_refused_naming_the_field(
    client: httpx.AsyncClient, viewer: dict[str, str], params: dict[str, str], field: str
) -> None:
    response = await client.get("/v1/kpis", params=params, headers=viewer)
    assert response.status_code == 422, response.text
    assert [f["field"] for f in response.json()["error"]["fields"]] == [field]


async def test_kpis_need_a_login(client: httpx.AsyncClient) -> None:
    assert (await client.get("/v1/kpis")).status_code == 401
    assert (await client.get("/v1/kpis/weekly-review")).status_code == 401


async def test_the_weekly_review_is_markdown_filled_from_the_numbers(
    client: httpx.AsyncClient, viewer: dict[str, str]
) -> None:
    response = await client.get(
        "/v1/kpis/weekly-review", params={"week": "2027-W02"}, headers=viewer
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/markdown")
    text = response.text
    assert text.startswith("# Weekly health check — 2027-W02\n")
    assert "2027-01-11 to 2027-01-17 (UTC)" in text
    assert "| MTTR (mean time to resolve) | 30m | < 30m | 2 | ❌ not met |" in text
    assert "| Alert noise (false positives) | 50.00 % | < 10.00 % | 4 | ❌ not met |" in text
    assert "- Total alerts triggered (notified alert groups): 4" in text
    assert "| BotDown | 3 |" in text
    assert "| api | 99.04 % | 1h | 2 | ≥ 99.95 % | ❌ not met |" in text
    assert "| INC-2027-0001 | P0 | incident 1 \\| P0 | resolved |" in text  # pipe escaped
    assert "| INC-2027-0004 | P3 | incident 4 \\| P3 (false positive) |" in text
    assert "| INC-2027-0001 | 1 | Add a pool size alert | alice |" in text
    assert "Already done" not in text
    assert "INC-2027-0005" not in text  # ten days ago: another week


async def test_the_weekly_review_defaults_to_last_week_and_validates_the_week(
    client: httpx.AsyncClient, viewer: dict[str, str]
) -> None:
    last = await client.get("/v1/kpis/weekly-review", params={"format": "json"}, headers=viewer)
    assert last.status_code == 200, last.text
    body = last.json()
    assert body["week"] == "2027-W01"
    assert body["markdown"].startswith("# Weekly health check — 2027-W01")
    assert "| INC-2027-0005 | P0 |" in body["markdown"]  # ten days before now
    assert "INC-2027-0001 | P0" not in body["markdown"]
    for week in ("2027-02", "2027-W54", "W02"):
        bad = await client.get("/v1/kpis/weekly-review", params={"week": week}, headers=viewer)
        assert bad.status_code == 422, week
        assert [f["field"] for f in bad.json()["error"]["fields"]] == ["query.week"]
