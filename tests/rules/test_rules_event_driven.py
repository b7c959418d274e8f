"""End to end in a started warden: a probe result written into the store wakes the
monitor's default rule at once (the evaluation interval here is an hour), so the alert
fires on the check that took the monitor DOWN."""

from __future__ import annotations

from pathlib import Path

import httpx

from support.eventually import eventually
from support.http import bearer
from support.net import LOOPBACK, free_port
from tradewarden.api import create_app
from tradewarden.auth import PasswordHasher, Role
from tradewarden.clock import ManualClock
from tradewarden.config import Settings, load_config_file
from tradewarden.rules import MemorySink
from tradewarden.runtime import SYSTEM, Runtime


async def test_a_down_check_fires_monitor_down_without_waiting_for_the_interval(
    settings: Settings, fast_hasher: PasswordHasher, tmp_path: Path
) -> None:
    closed = free_port()  # nothing listens: every check fails at once
    config_path = tmp_path / "tw.yaml"
    config_path.write_text(
        "rules:\n  packs: []\n  evaluation_interval: 1h\n"
        "monitors:\n"
        "  - name: api\n    kind: http\n"
        f"    url: http://{LOOPBACK}:{closed}/health\n"
        "    interval_s: 3600\n"
        "    failure: {down_after: 1}\n"
    )
    runtime = Runtime(
        settings,
        load_config_file(config_path),
        config_path=config_path,
        clock=ManualClock(1_700_000_000.0),
        hasher=fast_hasher,
    )
    await runtime.start(bootstrap_admin=False, run_probes=True)
    try:
        key = (await runtime.auth.create_api_key("o", Role.OPERATOR, actor=SYSTEM)).key
        headers = bearer(key)
        transport = httpx.ASGITransport(app=create_app(runtime, manage_runtime=False))
        async with httpx.AsyncClient(transport=transport, base_url="http://w") as http:
            checked = await http.post("/v1/monitors/api/run", headers=headers)
            assert checked.json()["state"] == "DOWN", checked.text

            async def firing() -> bool:
                alerts = (await http.get("/v1/alerts", headers=headers)).json()
                return [(a["alertname"], a["state"]) for a in alerts] == [("MonitorDown", "firing")]

            await eventually(firing)
            (alert,) = (await http.get("/v1/alerts", headers=headers)).json()
            assert alert["labels"]["monitor"] == "api"
            assert alert["file"] == "<tradewarden:monitors>"
            # The rules' sink fans out to the in-memory list (the API's) and the dispatcher.
            sinks = getattr(runtime.rules.sink, "sinks", (runtime.rules.sink,))
            (memory,) = [sink for sink in sinks if isinstance(sink, MemorySink)]
            assert memory.alerts()

            # A monitor created over the API gets its default rule too.
            created = await http.post(
                "/v1/monitors",
                headers=headers,
                json={"name": "api2", "kind": "http", "url": f"http://{LOOPBACK}:{closed}/"},
            )
            assert created.status_code == 201, created.text
            assert runtime.rules.refresh_generated()
            assert not runtime.rules.refresh_generated()  # unchanged: nothing to do
            (generated,) = [g for g in runtime.rules.groups() if g.spec.file == alert["file"]]
            exprs = sorted(rule.spec.expr for rule in generated.rules)
            assert exprs == [
                'monitor_state{monitor="api",state="DOWN"} == 1',
                'monitor_state{monitor="api2",state="DOWN"} == 1',
            ]
            assert runtime.rules.alerts()[0][0].state.value == "firing"  # state carried over
    finally:
        await runtime.close()
