"""The monitors API over a running scheduler with real targets on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from probes._targets import HttpTarget
from support.eventually import eventually
from support.http import bearer
from support.net import free_port
from tradewarden.api import create_app
from tradewarden.auth import PasswordHasher, Role
from tradewarden.clock import SystemClock
from tradewarden.config import ServiceConfig, Settings, load_config_file
from tradewarden.probes import Probe
from tradewarden.probes.kinds import HttpSpec, TcpSpec
from tradewarden.runtime import SYSTEM, Runtime
from tradewarden.store import MonitorRepository


@pytest.fixture
async def listening_port() -> AsyncIterator[int]:
    server = await asyncio.start_server(lambda _r, w: w.close(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield port
    finally:
        server.close()
        await server.wait_closed()


@pytest.fixture
async def warden(
    settings: Settings, fast_hasher: PasswordHasher, listening_port: int
) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str], dict[str, str]]]:
    config = ServiceConfig(
        monitors=(
            TcpSpec(
                name="open", host="127.0.0.1", port=listening_port, interval_s=0.5, timeout_s=0.4
            ),
            TcpSpec(
                name="closed",
                host="127.0.0.1",
                port=free_port(),
                interval_s=0.5,
                timeout_s=0.4,
                failure={"down_after": 1},  # type: ignore[arg-type]
            ),
        )
    )
    runtime = Runtime(settings, config, clock=SystemClock(), hasher=fast_hasher)
    await runtime.start(bootstrap_admin=False, run_probes=True)
    viewer = await runtime.auth.create_api_key("viewer", Role.VIEWER, actor=SYSTEM)
    operator = await runtime.auth.create_api_key("operator", Role.OPERATOR, actor=SYSTEM)
    app = create_app(runtime, manage_runtime=False)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40001))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://w") as http:
            yield http, bearer(viewer.key), bearer(operator.key)
    finally:
        await runtime.close()


async def _state(http: httpx.AsyncClient, headers: dict[str, str], name: str) -> str:
    return str((await http.get(f"/v1/monitors/{name}", headers=headers)).json()["state"])


async def test_monitors_report_their_state_and_flips(
    warden: tuple[httpx.AsyncClient, dict[str, str], dict[str, str]],
) -> None:
    http, viewer, _ = warden
    await eventually(lambda: _state_is(http, viewer, "open", "UP"))
    await eventually(lambda: _state_is(http, viewer, "closed", "DOWN"))
    listed = (await http.get("/v1/monitors", headers=viewer)).json()
    assert [(m["name"], m["kind"]) for m in listed] == [("closed", "tcp"), ("open", "tcp")]
    closed = listed[0]
    assert closed["last_check"]["success"] is False
    assert "refused" in closed["last_check"]["error"].lower()
    flips = (await http.get("/v1/monitors/closed/flips", headers=viewer)).json()
    assert [(f["old_state"], f["new_state"]) for f in flips] == [("PENDING", "DOWN")]
    history = (await http.get("/v1/monitors/open/history", headers=viewer)).json()
    assert history
    assert history[0]["success"] is True
    metrics = (await http.get("/metrics")).text
    assert 'probe_success{kind="tcp",monitor="open"} 1.0' in metrics
    assert 'probe_success{kind="tcp",monitor="closed"} 0.0' in metrics


async def _state_is(
    http: httpx.AsyncClient, headers: dict[str, str], name: str, state: str
) -> bool:
    return await _state(http, headers, name) == state


async def test_pause_resume_and_run_now_need_an_operator_and_are_audited(
    warden: tuple[httpx.AsyncClient, dict[str, str], dict[str, str]],
    admin_headers: dict[str, str],
) -> None:
    http, viewer, operator = warden
    await eventually(lambda: _state_is(http, viewer, "open", "UP"))
    refused = await http.post("/v1/monitors/open/pause", headers=viewer)
    assert refused.status_code == 403
    paused = await http.post(
        "/v1/monitors/open/pause", json={"reason": "provider maintenance"}, headers=operator
    )
    assert paused.status_code == 200
    assert paused.json()["state"] == "PAUSED"
    resumed = await http.post("/v1/monitors/open/resume", headers=operator)
    assert resumed.status_code == 200
    # Resuming schedules a check at once: it may already have passed when the reply is made.
    assert resumed.json()["state"] in {"PENDING", "UP"}
    ran = await http.post("/v1/monitors/open/run", headers=operator)
    assert ran.status_code == 200
    assert ran.json()["success"] is True
    flips = (await http.get("/v1/monitors/open/flips", headers=viewer)).json()
    assert [f["new_state"] for f in flips][:3] == ["UP", "PENDING", "PAUSED"]
    assert flips[2]["reason"] == "provider maintenance"


async def test_unknown_monitor_is_404(
    warden: tuple[httpx.AsyncClient, dict[str, str], dict[str, str]],
) -> None:
    http, viewer, operator = warden
    assert (await http.get("/v1/monitors/nope", headers=viewer)).status_code == 404
    assert (await http.post("/v1/monitors/nope/run", headers=operator)).status_code == 404


async def test_pause_rejects_unknown_fields(
    warden: tuple[httpx.AsyncClient, dict[str, str], dict[str, str]],
) -> None:
    http, _, operator = warden
    response = await http.post("/v1/monitors/open/pause", json={"why": "x"}, headers=operator)
    assert response.status_code == 422
    assert response.json()["error"]["fields"][0]["field"] == "body.why"


async def test_monitors_api_says_when_probes_do_not_run_here(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await client.get("/v1/monitors", headers=admin_headers)
    assert response.status_code == 503


# -- monitors created over the API ------------------------------------------------------

_FILE_MONITOR = "  - name: from-file\n    kind: heartbeat\n    period_s: 60\n"


class _Warden:
    """A warden with a config file and running probes, restartable on the same store."""

    def __init__(self, settings: Settings, hasher: PasswordHasher, path: Path) -> None:
        self.settings = settings
        self.hasher = hasher
        self.path = path
        self.runtime: Runtime | None = None
        self.http: httpx.AsyncClient | None = None
        self.keys: dict[str, dict[str, str]] = {}

    async def start(self) -> None:
        config = load_config_file(self.path)
        runtime = Runtime(
            self.settings, config, config_path=self.path, clock=SystemClock(), hasher=self.hasher
        )
        await runtime.start(bootstrap_admin=False, run_probes=True)
        self.runtime = runtime
        if not self.keys:
            for role in (Role.VIEWER, Role.OPERATOR, Role.ADMIN):
                issued = await runtime.auth.create_api_key(role.label, role, actor=SYSTEM)
                self.keys[role.label] = bearer(issued.key)
        transport = httpx.ASGITransport(
            app=create_app(runtime, manage_runtime=False), client=("127.0.0.1", 40002)
        )
        self.http = httpx.AsyncClient(transport=transport, base_url="http://w")

    async def stop(self) -> None:
        if self.http is not None:
            await self.http.aclose()
        if self.runtime is not None:
            await self.runtime.close()
        self.http, self.runtime = None, None

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    @property
    def client(self) -> httpx.AsyncClient:
        assert self.http is not None
        return self.http

    async def names(self) -> dict[str, str]:
        """Return each listed monitor's source."""
        listed = (await self.client.get("/v1/monitors", headers=self.keys["viewer"])).json()
        return {item["name"]: item["source"] for item in listed}

    async def state(self, name: str) -> str | None:
        response = await self.client.get(f"/v1/monitors/{name}", headers=self.keys["viewer"])
        return str(response.json()["state"]) if response.status_code == 200 else None

    async def audit(self, action: str) -> list[dict[str, Any]]:
        response = await self.client.get(
            "/v1/admin/audit", params={"action": action}, headers=self.keys["admin"]
        )
        entries: list[dict[str, Any]] = response.json()
        return entries

    async def stored(self) -> list[str]:
        assert self.runtime is not None
        async with self.runtime.database.read_session() as session:
            return [row.name for row in await MonitorRepository(session).all()]


@pytest.fixture
def target() -> Iterator[HttpTarget]:
    with HttpTarget() as server:
        yield server


@pytest.fixture
async def crud(
    settings: Settings, fast_hasher: PasswordHasher, tmp_path: Path
) -> AsyncIterator[_Warden]:
    path = tmp_path / "tradewarden.yaml"
    path.write_text("monitors:\n" + _FILE_MONITOR, encoding="utf-8")
    warden = _Warden(settings, fast_hasher, path)
    await warden.start()
    try:
        yield warden
    finally:
        await warden.stop()


def _http_spec(target: HttpTarget, path: str = "/json", **fields: Any) -> dict[str, Any]:
    return {
        "name": "api",
        "kind": "http",
        "url": target.url(path),
        "interval_s": 0.5,
        "timeout_s": 0.4,
        **fields,
    }


async def test_a_created_monitor_is_checked_and_survives_a_restart(
    crud: _Warden, target: HttpTarget
) -> None:
    spec = _http_spec(
        target,
        headers={"Authorization": "Bearer header-secret-123"},
        json_path="data.status",
        json_equals="up",
        labels={"team": "core"},
    )
    created = await crud.client.post(
        "/v1/monitors", json=spec, params={"reason": "new bot"}, headers=crud.keys["operator"]
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["name"], body["kind"], body["source"], body["labels"]) == (
        "api",
        "http",
        "api",
        {"team": "core"},
    )
    assert await crud.names() == {"api": "api", "from-file": "config"}
    await eventually(lambda: _is(crud.state("api"), "UP"))
    metrics = (await crud.client.get("/metrics")).text
    assert 'probe_success{kind="http",monitor="api"} 1.0' in metrics

    (entry,) = await crud.audit("monitor.create")
    assert (entry["actor"], entry["target"], entry["reason"], entry["outcome"]) == (
        "api_key:operator",
        "api",
        "new bot",
        "success",
    )
    assert entry["details"] == {"kind": "http"}
    listed = (await crud.client.get("/v1/monitors", headers=crud.keys["viewer"])).text
    audit = (await crud.client.get("/v1/admin/audit", headers=crud.keys["admin"])).text
    for text in (created.text, listed, audit):
        assert "header-secret-123" not in text

    await crud.restart()
    assert await crud.names() == {"api": "api", "from-file": "config"}
    assert await crud.state("api") == "UP"  # restored from its last flip
    await eventually(lambda: _has_checked(crud, "api"))


async def _is(state: Awaitable[str | None], expected: str) -> bool:
    return await state == expected


async def _has_checked(warden: _Warden, name: str) -> bool:
    response = await warden.client.get(f"/v1/monitors/{name}", headers=warden.keys["viewer"])
    return response.json()["last_check"] is not None


async def test_replace_changes_the_monitor_and_delete_removes_it_with_its_series(
    crud: _Warden, target: HttpTarget
) -> None:
    operator = crud.keys["operator"]
    created = await crud.client.post("/v1/monitors", json=_http_spec(target), headers=operator)
    assert created.status_code == 201
    await eventually(lambda: _is(crud.state("api"), "UP"))

    changed = {k: v for k, v in _http_spec(target, "/status/500").items() if k != "name"}
    changed["failure"] = {"down_after": 1}
    replaced = await crud.client.put("/v1/monitors/api", json=changed, headers=operator)
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["failure"] == {"down_after": 1}
    await eventually(lambda: _is(crud.state("api"), "DOWN"))
    flips = (await crud.client.get("/v1/monitors/api/flips", headers=operator)).json()
    assert [f["new_state"] for f in flips] == ["DOWN", "UP"]
    (entry,) = await crud.audit("monitor.replace")
    assert entry["details"] == {"kind": "http", "changed": ["failure", "url"]}

    mismatch = await crud.client.put(
        "/v1/monitors/api", json={**changed, "name": "other"}, headers=operator
    )
    assert mismatch.status_code == 422
    assert [f["field"] for f in mismatch.json()["error"]["fields"]] == ["body.name"]

    deleted = await crud.client.delete(
        "/v1/monitors/api", params={"reason": "bot retired"}, headers=operator
    )
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert await crud.names() == {"from-file": "config"}
    assert (await crud.client.get("/v1/monitors/api", headers=operator)).status_code == 404
    assert 'monitor="api"' not in (await crud.client.get("/metrics")).text
    assert await crud.stored() == []
    (entry,) = await crud.audit("monitor.delete")
    assert (entry["reason"], entry["details"]) == ("bot retired", {"kind": "http"})

    await crud.restart()
    assert await crud.names() == {"from-file": "config"}


_INVALID = [
    ({"name": "x", "kind": "nope"}, "body.kind"),
    ({"name": "x", "kind": "http"}, "body.url"),
    (
        {"name": "x", "kind": "http", "url": "http://127.0.0.1:9/", "interval_s": -1},
        "body.interval_s",
    ),
    (
        {"name": "x", "kind": "http", "url": "http://127.0.0.1:9/", "json_path": "$$["},
        "body.json_path",
    ),
    ({"name": "x", "kind": "http", "url": "http://127.0.0.1:9/", "colour": "red"}, "body.colour"),
    ({"name": "x/y", "kind": "tcp", "host": "127.0.0.1", "port": 9}, "body.name"),
    ({"name": "x", "kind": "postgres", "dsn": "postgresql://u:pw-inline@127.0.0.1/db"}, "body.dsn"),
    ({"name": "x", "kind": "redis", "url": "redis://:pw-inline@127.0.0.1:6379/0"}, "body.url"),
    (
        {
            "name": "x",
            "kind": "solana_rpc",
            "providers": [{"name": "a", "url": "https://rpc.test/?api-key=pw-inline"}],
        },
        "body.providers.0.url",
    ),
    ([1, 2], "body"),
]


async def test_invalid_bodies_are_422_naming_the_field_and_store_nothing(crud: _Warden) -> None:
    operator = crud.keys["operator"]
    for body, field in _INVALID:
        response = await crud.client.post("/v1/monitors", json=body, headers=operator)
        assert response.status_code == 422, (body, response.text)
        error = response.json()["error"]
        assert [item["field"] for item in error["fields"]] == [field], (body, error)
        assert "pw-inline" not in response.text
    not_json = await crud.client.post(
        "/v1/monitors", content=b"{nope", headers={**operator, "Content-Type": "application/json"}
    )
    assert not_json.status_code == 422
    assert not_json.json()["error"]["fields"][0]["field"] == "body"
    inline = await crud.client.post("/v1/monitors", json=_INVALID[6][0], headers=operator)
    assert "dsn_env or dsn_file" in inline.json()["error"]["fields"][0]["message"]
    assert await crud.stored() == []
    assert await crud.names() == {"from-file": "config"}
    assert await crud.audit("monitor.create") == []


async def test_a_monitor_from_the_config_file_cannot_be_changed_over_the_api(
    crud: _Warden,
) -> None:
    operator = crud.keys["operator"]
    spec = {"name": "from-file", "kind": "heartbeat", "period_s": 5}
    taken = await crud.client.post("/v1/monitors", json=spec, headers=operator)
    assert taken.status_code == 409
    assert "config file" in taken.json()["error"]["message"]
    for response in (
        await crud.client.put("/v1/monitors/from-file", json=spec, headers=operator),
        await crud.client.delete("/v1/monitors/from-file", headers=operator),
    ):
        assert response.status_code == 409
        assert "managed by the config file" in response.json()["error"]["message"]
    created = await crud.client.post(
        "/v1/monitors", json={**spec, "name": "api-beat"}, headers=operator
    )
    assert created.status_code == 201
    again = await crud.client.post(
        "/v1/monitors", json={**spec, "name": "api-beat"}, headers=operator
    )
    assert again.status_code == 409
    assert "already exists" in again.json()["error"]["message"]
    unknown = {**spec, "name": "nope"}
    assert (
        await crud.client.put("/v1/monitors/nope", json=unknown, headers=operator)
    ).status_code == 404
    assert (await crud.client.delete("/v1/monitors/nope", headers=operator)).status_code == 404
    assert await crud.stored() == ["api-beat"]
    assert len(await crud.audit("monitor.create")) == 1


async def test_a_viewer_cannot_write_monitors_and_the_refusal_is_audited(
    crud: _Warden, target: HttpTarget
) -> None:
    viewer = crud.keys["viewer"]
    refused = await crud.client.post("/v1/monitors", json=_http_spec(target), headers=viewer)
    assert refused.status_code == 403
    assert (await crud.client.delete("/v1/monitors/x", headers=viewer)).status_code == 403
    denied = await crud.audit("POST /v1/monitors")
    assert [(e["actor"], e["outcome"]) for e in denied] == [("api_key:viewer", "denied")]
    assert await crud.stored() == []


async def test_a_probe_that_cannot_be_built_stores_nothing(
    crud: _Warden, target: HttpTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    def _broken(_self: HttpSpec) -> Probe:
        raise RuntimeError("cannot build")

    monkeypatch.setattr(HttpSpec, "build", _broken)
    # The app answers 500; the in-process transport re-raises what the app raised.
    with pytest.raises(RuntimeError, match="cannot build"):
        await crud.client.post(
            "/v1/monitors", json=_http_spec(target), headers=crud.keys["operator"]
        )
    assert await crud.stored() == []
    assert await crud.audit("monitor.create") == []
    assert await crud.names() == {"from-file": "config"}


async def test_reload_keeps_api_monitors_and_brings_another_instances(
    crud: _Warden, settings: Settings, fast_hasher: PasswordHasher, target: HttpTarget
) -> None:
    other = _Warden(settings, fast_hasher, crud.path)
    other.keys = crud.keys
    await other.start()
    try:
        created = await crud.client.post(
            "/v1/monitors", json=_http_spec(target), headers=crud.keys["operator"]
        )
        assert created.status_code == 201
        assert "api" not in await other.names()  # applied by the instance that took it

        admin = crud.keys["admin"]
        assert (await other.client.post("/v1/admin/reload", headers=admin)).status_code == 200
        assert await other.names() == {"api": "api", "from-file": "config"}
        assert (await crud.client.post("/v1/admin/reload", headers=admin)).status_code == 200
        assert await crud.names() == {"api": "api", "from-file": "config"}

        # The file takes the name over: it wins, and the stored monitor no longer runs.
        crud.path.write_text(
            "monitors:\n"
            + _FILE_MONITOR
            + "  - name: api\n    kind: heartbeat\n    period_s: 60\n",
            encoding="utf-8",
        )
        assert (await crud.client.post("/v1/admin/reload", headers=admin)).status_code == 200
        listed = (await crud.client.get("/v1/monitors/api", headers=admin)).json()
        assert (listed["kind"], listed["source"]) == ("heartbeat", "config")
        assert await crud.stored() == ["api"]
    finally:
        await other.stop()


async def test_other_instances_pick_up_api_changes_without_a_reload(
    settings: Settings, fast_hasher: PasswordHasher, tmp_path: Path, target: HttpTarget
) -> None:
    path = tmp_path / "synced.yaml"
    path.write_text("probes:\n  sync_interval_s: 0.1\nmonitors:\n" + _FILE_MONITOR, "utf-8")
    taker, other = _Warden(settings, fast_hasher, path), _Warden(settings, fast_hasher, path)
    await taker.start()
    other.keys = taker.keys
    await other.start()
    operator = taker.keys["operator"]
    try:
        created = await taker.client.post(
            "/v1/monitors", json=_http_spec(target, interval_s=2, timeout_s=1), headers=operator
        )
        assert created.status_code == 201
        await eventually(lambda: _lists(other, "api"))
        paused = await other.client.post("/v1/monitors/api/pause", headers=operator)
        assert paused.json()["state"] == "PAUSED"

        beat = {"name": "beat", "kind": "heartbeat", "period_s": 60}
        assert (await taker.client.post("/v1/monitors", json=beat, headers=operator)).is_success
        await eventually(lambda: _lists(other, "beat"))
        assert await other.state("api") == "PAUSED"  # untouched by a change to another monitor

        replaced = await taker.client.put(
            "/v1/monitors/beat", json={**beat, "period_s": 120, "interval_s": 7}, headers=operator
        )
        assert replaced.is_success
        await eventually(lambda: _interval_is(other, "beat", 7))
        assert (await taker.client.delete("/v1/monitors/beat", headers=operator)).is_success
        await eventually(lambda: _lists(other, "beat", listed=False))
    finally:
        await other.stop()
        await taker.stop()


async def _lists(warden: _Warden, name: str, *, listed: bool = True) -> bool:
    return (name in await warden.names()) is listed


async def _interval_is(warden: _Warden, name: str, interval_s: float) -> bool:
    response = await warden.client.get(f"/v1/monitors/{name}", headers=warden.keys["viewer"])
    return bool(response.json()["interval_s"] == interval_s)
