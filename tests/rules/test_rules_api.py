"""The alerts and rules API through the app: the warden's JSON, Prometheus's shape, and the
audited reload that refuses an invalid file with file, group and rule."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from support.http import bearer
from tradewarden.api import create_app
from tradewarden.auth import PasswordHasher, Role
from tradewarden.clock import ManualClock
from tradewarden.config import Settings, load_config_file
from tradewarden.runtime import SYSTEM, Runtime
from tradewarden.series import Labels

RULES = """\
groups:
  - name: bots
    interval: 10s
    rules:
      - record: bot:up:sum
        expr: sum(bot_up)
      - alert: BotDown
        expr: bot_up == 0
        labels: {severity: page}
        annotations:
          summary: "{{ $labels.bot }} is down"
      - alert: BotSlow
        expr: bot_latency_seconds > 1
        for: 5m
"""


@dataclass
class Client:
    http: httpx.AsyncClient
    runtime: Runtime
    rules_path: Path
    viewer: dict[str, str]
    operator: dict[str, str]
    admin: dict[str, str]


@pytest.fixture
async def client(
    settings: Settings, fast_hasher: PasswordHasher, tmp_path: Path
) -> AsyncIterator[Client]:
    rules_path = tmp_path / "bots.yml"
    rules_path.write_text(RULES)
    config_path = tmp_path / "tw.yaml"
    config_path.write_text("rules:\n  packs: []\n  files: [bots.yml]\n")
    runtime = Runtime(
        settings,
        load_config_file(config_path),
        config_path=config_path,
        clock=ManualClock(1_700_000_000.0),
        hasher=fast_hasher,
    )
    await runtime.start(bootstrap_admin=False, run_probes=True)
    keys = {}
    for name, role in (("v", Role.VIEWER), ("o", Role.OPERATOR), ("a", Role.ADMIN)):
        keys[name] = bearer((await runtime.auth.create_api_key(name, role, actor=SYSTEM)).key)
    transport = httpx.ASGITransport(app=create_app(runtime, manage_runtime=False))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://w") as http:
            yield Client(http, runtime, rules_path, keys["v"], keys["o"], keys["a"])
    finally:
        await runtime.close()


async def _bot_down(client: Client) -> None:
    runtime = client.runtime
    t_ms = int(runtime.clock.now() * 1000)
    runtime.series.append(Labels.of(__name__="bot_up", bot="alpha"), t_ms, 0.0)
    runtime.series.append(Labels.of(__name__="bot_latency_seconds", bot="alpha"), t_ms, 3.0)
    await runtime.rules.evaluate_now()


async def test_alerts_in_the_wardens_shape(client: Client) -> None:
    assert (await client.http.get("/v1/alerts")).status_code == 401
    assert (await client.http.get("/v1/alerts", headers=client.viewer)).json() == []
    await _bot_down(client)
    alerts = (await client.http.get("/v1/alerts", headers=client.viewer)).json()
    assert [(a["alertname"], a["state"]) for a in alerts] == [
        ("BotDown", "firing"),
        ("BotSlow", "pending"),
    ]
    down = alerts[0]
    assert down["labels"] == {"alertname": "BotDown", "bot": "alpha", "severity": "page"}
    assert down["annotations"] == {"summary": "alpha is down"}
    assert down["value"] == 0.0
    assert down["active_at"] == down["fired_at"] == "2023-11-14T22:13:20Z"
    assert (down["rule"], down["group"], down["file"]) == (
        "BotDown",
        "bots",
        str(client.rules_path),
    )
    firing = (
        await client.http.get("/v1/alerts", params={"state": "firing"}, headers=client.viewer)
    ).json()
    assert [a["alertname"] for a in firing] == ["BotDown"]


async def test_prometheus_alerts_shape(client: Client) -> None:
    await _bot_down(client)
    body = (await client.http.get("/api/v1/alerts", headers=client.viewer)).json()
    assert body["status"] == "success"
    assert body["data"]["alerts"][0] == {
        "labels": {"alertname": "BotDown", "bot": "alpha", "severity": "page"},
        "annotations": {"summary": "alpha is down"},
        "state": "firing",
        "activeAt": "2023-11-14T22:13:20Z",
        "value": "0e+00",
    }
    assert body["data"]["alerts"][1]["value"] == "3e+00"


async def test_prometheus_rules_shape_and_type_filter(client: Client) -> None:
    await _bot_down(client)
    body = (await client.http.get("/api/v1/rules", headers=client.viewer)).json()
    assert body["status"] == "success"
    (group,) = body["data"]["groups"]
    assert (group["name"], group["file"], group["interval"], group["limit"]) == (
        "bots",
        str(client.rules_path),
        10.0,
        0,
    )
    assert group["lastEvaluation"] == "2023-11-14T22:13:20Z"
    assert isinstance(group["evaluationTime"], float)
    record, down, slow = group["rules"]
    assert (record["type"], record["name"], record["health"]) == ("recording", "bot:up:sum", "ok")
    assert record["query"] == "sum(bot_up)"
    assert (down["type"], down["state"], down["duration"]) == ("alerting", "firing", 0.0)
    assert down["alerts"][0]["labels"]["bot"] == "alpha"
    assert (slow["state"], slow["duration"], slow["keepFiringFor"]) == ("pending", 300.0, 0.0)

    alerts_only = (
        await client.http.get("/api/v1/rules", params={"type": "alert"}, headers=client.viewer)
    ).json()
    assert [r["name"] for r in alerts_only["data"]["groups"][0]["rules"]] == ["BotDown", "BotSlow"]
    records = (
        await client.http.get("/api/v1/rules", params={"type": "record"}, headers=client.viewer)
    ).json()
    assert [r["type"] for r in records["data"]["groups"][0]["rules"]] == ["recording"]
    bad = await client.http.get("/api/v1/rules", params={"type": "x"}, headers=client.viewer)
    assert bad.status_code == 400
    assert bad.json()["errorType"] == "bad_data"


async def test_reload_refuses_a_bad_file_keeps_rules_and_audits(client: Client) -> None:
    http = client.http
    assert (await http.post("/v1/admin/rules/reload", headers=client.operator)).status_code == 403
    client.rules_path.write_text(RULES.replace("expr: sum(bot_up)", "expr: sum(bot_up"))
    refused = await http.post("/v1/admin/rules/reload", headers=client.admin)
    assert refused.status_code == 422
    error = refused.json()["error"]
    (problem,) = error["fields"]
    assert problem["file"] == str(client.rules_path)
    assert (problem["group"], problem["rule_index"], problem["rule"]) == ("bots", 1, "bot:up:sum")
    assert problem["line"] == 6
    assert problem["message"].startswith("could not parse expression:")
    names = [g.name for g in client.runtime.rules.groups()]
    assert names == ["bots"]
    assert len(client.runtime.rules.groups()[0].rules) == 3

    client.rules_path.write_text(RULES.replace("  - name: bots", "  - name: robots"))
    done = await http.post("/v1/admin/rules/reload", headers=client.admin)
    assert done.status_code == 200
    assert done.json() == {"groups": 1, "rules": 3, "files": [str(client.rules_path)]}
    assert [g.name for g in client.runtime.rules.groups()] == ["robots"]

    audit = (
        await http.get("/v1/admin/audit", params={"action": "rules.reload"}, headers=client.admin)
    ).json()
    assert sorted(e["outcome"] for e in audit) == ["error", "success"]


async def test_rule_groups_health_on_metrics(client: Client) -> None:
    await _bot_down(client)
    text = (await client.http.get("/metrics")).text
    group = f'file="{client.rules_path}",group="bots"'
    assert f"tradewarden_rule_group_rules{{{group}}} 3.0" in text
    assert f"tradewarden_rule_group_interval_seconds{{{group}}} 10.0" in text
    assert f"tradewarden_rule_group_last_evaluation_timestamp_seconds{{{group}}} 1.7e+09" in text
    # The start's evaluation and evaluate_now(); the appends may also wake the group once
    # more before the read, so the count is at least two, not exactly two.
    (evaluations,) = (
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(f"tradewarden_rule_group_evaluations_total{{{group}}}")
    )
    assert evaluations >= 2
    assert f"tradewarden_rule_group_rules_failing{{{group}}} 0.0" in text
    assert 'tradewarden_alerts{state="firing"} 1.0' in text
    assert 'tradewarden_alerts{state="pending"} 1.0' in text
