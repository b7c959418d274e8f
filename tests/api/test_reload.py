"""Reloading monitors from the config file over the API."""

from __future__ import annotations

from pathlib import Path

import httpx

from support.http import bearer
from tradewarden.api import create_app
from tradewarden.auth import PasswordHasher, Role
from tradewarden.clock import ManualClock
from tradewarden.config import Settings, load_config_file
from tradewarden.runtime import SYSTEM, Runtime


def _monitors(*names: str) -> str:
    lines = ["monitors:"]
    for name in names:
        lines += [f"  - name: {name}", "    kind: heartbeat", "    period_s: 60"]
    return "\n".join(lines) + "\n"


async def test_reload_applies_the_file_and_refuses_an_invalid_one(
    settings: Settings, fast_hasher: PasswordHasher, tmp_path: Path
) -> None:
    path = tmp_path / "tw.yaml"
    path.write_text(_monitors("a", "b"), encoding="utf-8")
    runtime = Runtime(
        settings, load_config_file(path), config_path=path, clock=ManualClock(), hasher=fast_hasher
    )
    await runtime.start(bootstrap_admin=False, run_probes=True)
    try:
        admin = bearer((await runtime.auth.create_api_key("a", Role.ADMIN, actor=SYSTEM)).key)
        operator = bearer((await runtime.auth.create_api_key("o", Role.OPERATOR, actor=SYSTEM)).key)
        transport = httpx.ASGITransport(app=create_app(runtime, manage_runtime=False))
        async with httpx.AsyncClient(transport=transport, base_url="http://w") as http:
            path.write_text(_monitors("b", "c"), encoding="utf-8")
            assert (await http.post("/v1/admin/reload", headers=operator)).status_code == 403
            reloaded = await http.post(
                "/v1/admin/reload", params={"reason": "new bot"}, headers=admin
            )
            assert reloaded.json() == {"added": ["c"], "removed": ["a"], "changed": []}
            names = [m["name"] for m in (await http.get("/v1/monitors", headers=admin)).json()]
            assert names == ["b", "c"]

            path.write_text("monitors:\n  - name: d\n    kind: heartbeat\n", encoding="utf-8")
            refused = await http.post("/v1/admin/reload", headers=admin)
            assert refused.status_code == 422
            assert f"{path}:2: monitors.0.period_s: Field required" in refused.text
            names = [m["name"] for m in (await http.get("/v1/monitors", headers=admin)).json()]
            assert names == ["b", "c"]

            audit = (
                await http.get(
                    "/v1/admin/audit", params={"action": "monitors.reload"}, headers=admin
                )
            ).json()
            assert [(e["reason"], e["details"]["added"]) for e in audit] == [("new bot", ["c"])]
    finally:
        await runtime.close()
