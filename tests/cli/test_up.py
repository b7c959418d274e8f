"""`tradewarden up` as a real process: migrate, first admin, serve, log in, stop cleanly."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from support.eventually import eventually
from support.net import free_port
from tradewarden.cli import app


class Warden:
    """A `tradewarden up` subprocess whose stderr is collected line by line."""

    def __init__(self, env: dict[str, str], *args: str) -> None:
        self.port = free_port()
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tradewarden",
                "up",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                *args,
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return "\n".join(self.lines)

    async def wait_healthy(self) -> None:
        async def _healthy() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(f"warden exited early:\n{self.output()}")
            try:
                async with httpx.AsyncClient() as http:
                    return (await http.get(f"{self.url}/health")).status_code == 200
            except httpx.TransportError:
                return False

        await eventually(_healthy, timeout_s=60, interval_s=0.1)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=30)
        self._reader.join(timeout=5)
        if self.process.stdout is not None:
            self.process.stdout.close()
        return code


@pytest.fixture
def warden_env(database_url: str, tmp_path: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TRADEWARDEN_", "OTEL_", "SENTRY_"))
        and key not in {"DATABASE_URL", "REDIS_URL"}
    }
    env.update(
        TRADEWARDEN_DATA_DIR=str(tmp_path / "data"),
        DATABASE_URL=database_url,
        TRADEWARDEN_LOG_FORMAT="json",
    )
    return env


ADMIN_PASSWORD = "chosen-admin-password"


async def admin_headers(http: httpx.AsyncClient) -> dict[str, str]:
    """Log in as the first admin (password from TRADEWARDEN_ADMIN_PASSWORD)."""
    login = await http.post(
        "/v1/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD}
    )
    assert login.status_code == 200, login.text
    return {"Authorization": f"Bearer {login.json()['access_token']}"}


def _one_time_password(output: str) -> str:
    for line in output.splitlines():
        if "one-time password:" in line:
            return line.split("one-time password:", 1)[1].strip()
    raise AssertionError(f"no one-time password printed:\n{output}")


@pytest.mark.slow
async def test_first_start_serves_health_and_the_first_admin_can_log_in(
    warden_env: dict[str, str],
) -> None:
    warden = Warden(warden_env)
    try:
        await warden.wait_healthy()
        password = _one_time_password(warden.output())
        async with httpx.AsyncClient(base_url=warden.url) as http:
            login = await http.post(
                "/v1/auth/login", json={"username": "admin", "password": password}
            )
            assert login.status_code == 200
            assert login.json()["must_change_password"] is True
            token = login.json()["access_token"]
            status = await http.get("/status", headers={"Authorization": f"Bearer {token}"})
            assert status.status_code == 200
            assert status.json()["status"] == "ok"
    finally:
        code = warden.stop()
    assert code == 0, warden.output()
    # The password goes to the terminal once; never into a structured log line.
    assert all(password not in line for line in warden.lines if line.startswith("{"))

    again = Warden(warden_env)
    try:
        await again.wait_healthy()
    finally:
        again.stop()
    assert "one-time password" not in again.output()


@pytest.mark.slow
async def test_admin_password_from_a_file_is_used(
    warden_env: dict[str, str], tmp_path: Path
) -> None:
    secret = tmp_path / "admin-password"
    secret.write_text("chosen-admin-password\n", encoding="utf-8")
    warden = Warden({**warden_env, "TRADEWARDEN_ADMIN_PASSWORD_FILE": str(secret)})
    try:
        await warden.wait_healthy()
        async with httpx.AsyncClient(base_url=warden.url) as http:
            login = await http.post(
                "/v1/auth/login",
                json={"username": "admin", "password": "chosen-admin-password"},
            )
            assert login.status_code == 200
            assert login.json()["must_change_password"] is False
    finally:
        warden.stop()
    assert "one-time password" not in warden.output()


def test_up_refuses_a_bad_config_with_exit_2(warden_env: dict[str, str], tmp_path: Path) -> None:
    config = tmp_path / "tw.yaml"
    config.write_text("server:\n  port: 8080\n  portt: 1\n", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "tradewarden", "up", "--config", str(config)],
        env=warden_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert f"{config}:3: server.portt: unknown field" in result.stderr
    assert "Traceback" not in result.stderr


def test_up_reports_an_unreachable_database_in_one_line(
    warden_env: dict[str, str],
) -> None:
    env = {**warden_env, "DATABASE_URL": f"postgresql://postgres@127.0.0.1:{free_port()}/x"}
    result = subprocess.run(
        [sys.executable, "-m", "tradewarden", "up", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "error: cannot start:" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


@pytest.mark.slow
async def test_status_command_prints_a_table(warden_env: dict[str, str]) -> None:
    warden = Warden(warden_env)
    try:
        await warden.wait_healthy()
        created = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "tradewarden", "apikey", "create", "cli", "--role", "viewer"],
            env=warden_env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        key = created.stdout.strip().splitlines()[-1]
        result = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "tradewarden", "status", "--url", warden.url],
            env={**warden_env, "TRADEWARDEN_API_KEY": key},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert "database" in result.stdout
        assert "up" in result.stdout
        denied = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "tradewarden", "status", "--url", warden.url],
            env=warden_env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert denied.returncode == 1
        assert "set --api-key" in denied.stderr
        # It names itself by the address it listens on (--port), not the file's default.
        found: list[dict[str, object]] = []
        async with httpx.AsyncClient(headers={"Authorization": f"Bearer {key}"}) as http:

            async def _self_scraped() -> bool:
                answer = await http.get(
                    f"{warden.url}/api/v1/query", params={"query": 'up{job="tradewarden"}'}
                )
                found[:] = answer.json()["data"]["result"]
                return bool(found)

            await eventually(_self_scraped, timeout_s=60)
        (up,) = found
        assert up["metric"] == {
            "__name__": "up",
            "job": "tradewarden",
            "instance": f"127.0.0.1:{warden.port}",
        }
    finally:
        warden.stop()


@pytest.mark.slow
async def test_running_warden_exports_traces_over_otlp(warden_env: dict[str, str]) -> None:
    from telemetry._servers import OtlpCollector

    with OtlpCollector() as collector:
        env = {
            **warden_env,
            "OTEL_ENABLED": "true",
            "OTEL_SERVICE_NAME": "warden-under-test",
            "OTEL_EXPORTER_OTLP_ENDPOINT": collector.endpoint,
            "OTEL_EXPORTER_OTLP_HEADERS": "authorization=Bearer%20collector-token",
            "TRADEWARDEN_ADMIN_PASSWORD": ADMIN_PASSWORD,
        }
        warden = Warden(env)
        try:
            await warden.wait_healthy()
            async with httpx.AsyncClient(base_url=warden.url) as http:
                await http.get("/status", headers=await admin_headers(http))
        finally:
            assert warden.stop() == 0, warden.output()

        spans = collector.spans()
        names = {span.name for span in spans}
        assert "GET /status" in names, names
        assert "POST /v1/auth/login" in names, names
        assert any(span.attributes.get("db.system") for span in spans), names
        assert {span.resource.get("service.name") for span in spans} == {"warden-under-test"}
        assert spans[0].headers.get("authorization") == "Bearer collector-token"
        # The secret header must not leak into the warden's own logs.
        assert "collector-token" not in warden.output()


@pytest.mark.slow
async def test_kill_9_loses_no_flip_and_monitors_resume(
    warden_env: dict[str, str], tmp_path: Path
) -> None:
    closed_port = free_port()
    config = tmp_path / "tw.yaml"
    config.write_text(
        "monitors:\n"
        "  - name: gone\n"
        "    kind: tcp\n"
        "    host: 127.0.0.1\n"
        f"    port: {closed_port}\n"
        "    interval_s: 0.5\n"
        "    timeout_s: 0.4\n"
        "    failure: {down_after: 1}\n",
        encoding="utf-8",
    )
    env = {**warden_env, "TRADEWARDEN_ADMIN_PASSWORD": ADMIN_PASSWORD}
    first = Warden(env, "--config", str(config))
    try:
        await first.wait_healthy()
        async with httpx.AsyncClient(base_url=first.url) as http:
            headers = await admin_headers(http)

            async def _down() -> bool:
                response = await http.get("/v1/monitors/gone", headers=headers)
                return response.json().get("state") == "DOWN"

            await eventually(_down, timeout_s=20)
    finally:
        first.process.kill()  # SIGKILL: no shutdown, no flush
        first.stop()

    second = Warden(env, "--config", str(config))
    try:
        await second.wait_healthy()
        async with httpx.AsyncClient(base_url=second.url) as http:
            headers = await admin_headers(http)
            monitor = (await http.get("/v1/monitors/gone", headers=headers)).json()
            # The state survived the kill: the monitor resumes DOWN, not PENDING.
            assert monitor["state"] == "DOWN"
            flips = (await http.get("/v1/monitors/gone/flips", headers=headers)).json()
            assert [(f["old_state"], f["new_state"]) for f in flips] == [("PENDING", "DOWN")]

            async def _checked_again() -> bool:
                response = await http.get("/v1/monitors/gone/history", headers=headers)
                return len(response.json()) >= 2

            await eventually(_checked_again, timeout_s=20)
    finally:
        assert second.stop() == 0, second.output()


@pytest.mark.slow
async def test_sighup_and_the_reload_command_apply_a_changed_config(
    warden_env: dict[str, str], tmp_path: Path
) -> None:
    config = tmp_path / "tw.yaml"

    def write(*names: str) -> None:
        body = "".join(f"  - {{name: {name}, kind: heartbeat, period_s: 60}}\n" for name in names)
        config.write_text("monitors:\n" + body, encoding="utf-8")

    write("first")
    env = {**warden_env, "TRADEWARDEN_ADMIN_PASSWORD": ADMIN_PASSWORD}
    warden = Warden(env, "--config", str(config))
    try:
        await warden.wait_healthy()
        async with httpx.AsyncClient(base_url=warden.url) as http:
            headers = await admin_headers(http)

            async def names() -> list[str]:
                listed = (await http.get("/v1/monitors", headers=headers)).json()
                return [monitor["name"] for monitor in listed]

            assert await names() == ["first"]
            write("first", "second")
            warden.process.send_signal(signal.SIGHUP)

            async def _two() -> bool:
                return await names() == ["first", "second"]

            await eventually(_two, timeout_s=20)

            key = (
                await http.post(
                    "/v1/admin/api-keys", json={"name": "ops", "role": "admin"}, headers=headers
                )
            ).json()["key"]
            write("second", "third")
            result = await asyncio.to_thread(
                subprocess.run,
                [
                    sys.executable,
                    "-m",
                    "tradewarden",
                    "reload",
                    "--url",
                    warden.url,
                    "--reason",
                    "rotate monitors",
                ],
                env={**env, "TRADEWARDEN_API_KEY": key},
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert result.returncode == 0, result.stderr
            assert "added: third" in result.stdout
            assert "removed: first" in result.stdout
            assert await names() == ["second", "third"]
    finally:
        assert warden.stop() == 0, warden.output()


@pytest.mark.slow
async def test_monitor_commands_add_list_and_delete_over_the_api(
    warden_env: dict[str, str], tmp_path: Path
) -> None:
    env = {**warden_env, "TRADEWARDEN_ADMIN_PASSWORD": ADMIN_PASSWORD}
    warden = Warden(env)
    try:
        await warden.wait_healthy()
        async with httpx.AsyncClient(base_url=warden.url) as http:
            headers = await admin_headers(http)
            created = await http.post(
                "/v1/admin/api-keys", json={"name": "ops", "role": "operator"}, headers=headers
            )
            key = created.json()["key"]
        spec = tmp_path / "nightly.yaml"
        spec.write_text("name: nightly\nkind: heartbeat\nperiod_s: 3600\n", encoding="utf-8")
        runner = CliRunner()

        def monitor(*args: str) -> tuple[int, str]:
            result = runner.invoke(
                app, ["monitor", *args, "--url", warden.url, "--api-key", key], env=env
            )
            return result.exit_code, result.output

        code, output = await asyncio.to_thread(
            monitor, "add", "--file", str(spec), "--reason", "nightly job"
        )
        assert (code, output.strip()) == (0, "created monitor nightly (heartbeat): PENDING")
        code, output = await asyncio.to_thread(monitor, "list", "--json")
        assert code == 0, output
        assert [(m["name"], m["source"]) for m in json.loads(output)] == [("nightly", "api")]
        code, output = await asyncio.to_thread(monitor, "add", "--file", str(spec))
        assert code == 1
        assert "409" in output
        assert "already exists" in output
        code, output = await asyncio.to_thread(monitor, "delete", "nightly")
        assert (code, output.strip()) == (0, "deleted monitor nightly")
        code, output = await asyncio.to_thread(monitor, "list")
        assert code == 0
        assert "nightly" not in output
    finally:
        assert warden.stop() == 0, warden.output()
