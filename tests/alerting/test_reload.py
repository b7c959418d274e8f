"""A config reload applies the alerting sections all or nothing: the next alert goes where
the new route says, a new maintenance window mutes at once, an invalid file (or one
naming a channel that is not running) changes nothing; the reload is audited, and SIGHUP
does the same in a running warden."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

from alerting.conftest import notifications
from support.eventually import eventually
from support.http import bearer
from support.net import free_port
from tradewarden.alerting import Alert
from tradewarden.api import create_app
from tradewarden.auth import PasswordHasher, Role
from tradewarden.clock import ManualClock
from tradewarden.config import Settings, load_config_file
from tradewarden.errors import ConfigError
from tradewarden.runtime import SYSTEM, Runtime
from tradewarden.series import Labels

CHANNELS = """\
channels:
  - {name: chat, type: apprise, url_env: TW_TEST_CHAT_URL}
  - {name: sms, type: apprise, url_env: TW_TEST_SMS_URL}
monitors:
  - {name: bot, kind: heartbeat, period_s: 60}
"""


def _route(receiver: str, extra: str = "") -> str:
    return (
        CHANNELS
        + f"route:\n  receiver: {receiver}\n  group_by: [alertname]\n  group_wait: 0s\n"
        + extra
    )


WINDOW = """\
maintenance_windows:
  - name: upgrade
    matchers: ['bot="quiet"']
    cron: '* * * * *'
    duration: 1h
    comment: rolling upgrade
"""


def _alert(clock: ManualClock, name: str, **labels: str) -> Alert:
    now = int(clock.now() * 1000)
    return Alert(Labels.of({"alertname": name, **labels}), {}, now, ends_at_ms=now + 3_600_000)


async def _sent(runtime: Runtime) -> list[tuple[str, str]]:
    return [(r.channel, r.title) for r in await notifications(runtime.database)]


@pytest.fixture
async def reloadable(
    settings: Settings,
    fast_hasher: PasswordHasher,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[Runtime, Path]:
    # Nothing listens on the discard port: the rows in the outbox are the result.
    monkeypatch.setenv("TW_TEST_CHAT_URL", "json://127.0.0.1:9/chat")
    monkeypatch.setenv("TW_TEST_SMS_URL", "json://127.0.0.1:9/sms")
    path = tmp_path / "tw.yaml"
    path.write_text(_route("chat"), encoding="utf-8")
    runtime = Runtime(
        settings, load_config_file(path), config_path=path, clock=ManualClock(), hasher=fast_hasher
    )
    return runtime, path


async def test_a_reload_changes_where_the_next_alert_goes_and_an_invalid_one_nothing(
    reloadable: tuple[Runtime, Path],
) -> None:
    runtime, path = reloadable
    clock = runtime.clock
    assert isinstance(clock, ManualClock)
    await runtime.start(bootstrap_admin=False, run_probes=True)
    try:
        alerting = runtime.alerting
        assert alerting is not None
        await alerting.dispatcher.ingest([_alert(clock, "First")])

        async def _first() -> bool:
            return await _sent(runtime) == [("chat", "[FIRING:1] First")]

        await eventually(_first)

        path.write_text(_route("sms", WINDOW), encoding="utf-8")
        reloaded = await runtime.reload_config()
        assert reloaded.alerting.changed == ("route", "maintenance_windows")
        assert "channels" in reloaded.next_start
        quiet = _alert(clock, "Upgrading", bot="quiet")
        assert alerting.dispatcher.muted_by(quiet)[0] == ["maintenance:upgrade"]
        await alerting.dispatcher.ingest([_alert(clock, "Second"), quiet])

        async def _second() -> bool:
            return ("sms", "[FIRING:1] Second") in await _sent(runtime)

        await eventually(_second)

        refused = {
            "an unknown receiver": (_route("nobody"), r"tw.yaml:\d+: route: .*'nobody'"),
            "an invalid cron": (
                _route("chat", WINDOW.replace("* * * * *", "0 0 31 2 *")),
                r"tw.yaml:\d+: maintenance_windows.0.cron: '0 0 31 2 \*' never matches",
            ),
            # Added to the file, but channels start with the service.
            "a channel not running": (
                _route("pager").replace(
                    "monitors:",
                    "  - {name: pager, type: apprise, url_env: TW_TEST_SMS_URL}\nmonitors:",
                ),
                (
                    "reload refused, channels are read at the next start: route.receiver: "
                    "undefined receiver 'pager'"
                ),
            ),
        }
        for text, message in refused.values():
            path.write_text(text, encoding="utf-8")
            with pytest.raises(ConfigError, match=message):
                await runtime.reload_config()
        # Nothing changed: the window still mutes, the next alert goes to sms.
        assert alerting.dispatcher.muted_by(quiet)[0] == ["maintenance:upgrade"]
        assert runtime.config.route is not None
        assert runtime.config.route.receiver == "sms"
        await alerting.dispatcher.ingest([_alert(clock, "Third")])

        async def _third() -> bool:
            return ("sms", "[FIRING:1] Third") in await _sent(runtime)

        await eventually(_third)
        sent = await _sent(runtime)
        assert [title for _, title in sent] == [
            "[FIRING:1] First",
            "[FIRING:1] Second",
            "[FIRING:1] Third",
        ]  # the muted Upgrading never went out
    finally:
        await runtime.close()


async def test_the_admin_reload_applies_alerting_and_is_audited(
    reloadable: tuple[Runtime, Path],
) -> None:
    runtime, path = reloadable
    await runtime.start(bootstrap_admin=False, run_probes=True)
    try:
        admin = bearer((await runtime.auth.create_api_key("a", Role.ADMIN, actor=SYSTEM)).key)
        viewer = bearer((await runtime.auth.create_api_key("v", Role.VIEWER, actor=SYSTEM)).key)
        transport = httpx.ASGITransport(app=create_app(runtime, manage_runtime=False))
        async with httpx.AsyncClient(transport=transport, base_url="http://w") as http:
            assert (await http.get("/v1/maintenance", headers=viewer)).json() == []
            path.write_text(_route("sms", WINDOW), encoding="utf-8")
            answer = await http.post(
                "/v1/admin/reload", params={"reason": "upgrade night"}, headers=admin
            )
            assert answer.status_code == 200, answer.text
            windows = (await http.get("/v1/maintenance", headers=viewer)).json()
            assert [(w["name"], w["active"]) for w in windows] == [("upgrade", True)]

            path.write_text(_route("nobody"), encoding="utf-8")
            refused = await http.post("/v1/admin/reload", headers=admin)
            assert refused.status_code == 422
            assert "undefined receiver 'nobody'" in refused.text
            assert len((await http.get("/v1/maintenance", headers=viewer)).json()) == 1

            audit = (
                await http.get(
                    "/v1/admin/audit", params={"action": "monitors.reload"}, headers=admin
                )
            ).json()
            assert [(e["reason"], e["details"]["alerting_changed"]) for e in audit] == [
                ("upgrade night", ["route", "maintenance_windows"])
            ]
            assert "escalation_policies" in audit[0]["details"]["next_start"]
    finally:
        await runtime.close()


@pytest.mark.slow
async def test_sighup_applies_new_maintenance_windows_in_a_running_warden(
    database_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "tw.yaml"
    path.write_text(_route("chat"), encoding="utf-8")
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TRADEWARDEN_", "OTEL_", "SENTRY_"))
        and key not in {"DATABASE_URL", "REDIS_URL"}
    }
    env.update(
        TRADEWARDEN_DATA_DIR=str(tmp_path / "data"),
        DATABASE_URL=database_url,
        TRADEWARDEN_ADMIN_PASSWORD="chosen-admin-password",
        TW_TEST_CHAT_URL="json://127.0.0.1:9/chat",
        TW_TEST_SMS_URL="json://127.0.0.1:9/sms",
        TRADEWARDEN_LOG_FORMAT="json",
    )
    port = free_port()
    command = [sys.executable, "-m", "tradewarden", "up", "--config", str(path)]
    process = subprocess.Popen(  # noqa: ASYNC220 - the warden runs for the whole test
        [*command, "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []

    def _read() -> None:
        assert process.stdout is not None
        lines.extend(line.rstrip("\n") for line in process.stdout)

    reader = threading.Thread(target=_read, daemon=True)
    reader.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:

            async def _up() -> bool:
                assert process.poll() is None, "the warden exited"
                try:
                    return (await http.get("/health")).status_code == 200
                except httpx.TransportError:
                    return False

            await eventually(_up, timeout_s=60, interval_s=0.1)
            login = await http.post(
                "/v1/auth/login",
                json={"username": "admin", "password": "chosen-admin-password"},
            )
            headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
            assert (await http.get("/v1/maintenance", headers=headers)).json() == []
            path.write_text(_route("sms", WINDOW), encoding="utf-8")
            process.send_signal(signal.SIGHUP)

            async def _window() -> bool:
                listed = (await http.get("/v1/maintenance", headers=headers)).json()
                return [w["name"] for w in listed] == ["upgrade"]

            await eventually(_window, timeout_s=20)
            path.write_text(_route("nobody"), encoding="utf-8")  # refused: nothing changes
            process.send_signal(signal.SIGHUP)
            await eventually(lambda: any("reload refused" in line for line in lines), timeout_s=20)
            assert any("undefined receiver 'nobody'" in line for line in lines)
            listed = (await http.get("/v1/maintenance", headers=headers)).json()
            assert [w["name"] for w in listed] == ["upgrade"]
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=30)
        reader.join(timeout=5)
        if process.stdout is not None:
            process.stdout.close()
        print("\n".join(lines))  # shown when the test fails
    assert code == 0, "\n".join(lines)
