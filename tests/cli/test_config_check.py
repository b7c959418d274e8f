"""`config check` names every channel that cannot send (secrets never printed), and both
`config check` and `up` refuse an invalid cron in maintenance_windows and a route to an
unknown receiver; `up` refuses a channel that cannot send."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from support.net import free_port
from tradewarden.cli import app

runner = CliRunner()
SECRET = "supersecret-token-123"

CHANNELS = """\
channels:
  - {name: chat, type: apprise, url_env: TW_TEST_MISSING_URL}
  - {name: bad, type: apprise, url_env: TW_TEST_BAD_URL}
  - {name: slack, type: slack, url_file: /nonexistent/tradewarden/slack-url}
  - {name: fine, type: apprise, url_env: TW_TEST_FINE_URL}
"""
BAD_CRON = """\
maintenance_windows:
  - name: nightly
    matchers: ['alertname=~".+"']
    cron: '0 25 * * *'
    duration: 1h
"""
UNKNOWN_RECEIVER = """\
route:
  receiver: chat
  routes:
    - matchers: ['severity="critical"']
      receiver: nobody
"""


@pytest.fixture
def channel_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TW_TEST_MISSING_URL", raising=False)
    monkeypatch.setenv("TW_TEST_BAD_URL", f"notascheme://{SECRET}@host")
    monkeypatch.setenv("TW_TEST_FINE_URL", "json://127.0.0.1:9/ok")


def _check(path: Path) -> tuple[int, str, str]:
    result = runner.invoke(app, ["config", "check", "--config", str(path)])
    return result.exit_code, result.stdout, result.stderr


def test_config_check_lists_every_channel_that_cannot_send(
    tmp_path: Path, channel_env: None
) -> None:
    path = tmp_path / "tw.yaml"
    path.write_text(CHANNELS, encoding="utf-8")
    code, out, err = _check(path)
    assert code == 2
    assert "config ok" not in out
    assert "channel 'chat': environment variable TW_TEST_MISSING_URL (url_env) is not set" in err
    assert "channel 'bad': environment variable TW_TEST_BAD_URL (url_env) is not a valid" in err
    assert "channel 'slack': url_file /nonexistent/tradewarden/slack-url: cannot read" in err
    assert "'fine'" not in err
    assert "3 channel(s) cannot send" in err
    assert SECRET not in out + err
    assert "Traceback" not in out + err


def test_config_check_passes_once_every_channel_can_send(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TW_TEST_FINE_URL", "json://127.0.0.1:9/ok")
    path = tmp_path / "tw.yaml"
    path.write_text(
        "channels:\n  - {name: fine, type: apprise, url_env: TW_TEST_FINE_URL}\n", encoding="utf-8"
    )
    code, out, _err = _check(path)
    assert code == 0
    assert f"config ok: {path}" in out.replace("\n", "")  # a long path wraps


# After the two lines of the chat channel: the field's line (a route's problems are the
# section's, so the line of ``route:``).
REFUSED = [
    (BAD_CRON, ":6: maintenance_windows.0.cron: '0 25 * * *' is not a valid 5-field cron"),
    (UNKNOWN_RECEIVER, ":3: route: routes.0.receiver: undefined receiver 'nobody'"),
]


def _with_chat(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "tw.yaml"
    path.write_text(
        "channels:\n  - {name: chat, type: apprise, url_env: TW_TEST_FINE_URL}\n" + text,
        encoding="utf-8",
    )
    return path


@pytest.mark.parametrize(("text", "expected"), REFUSED)
def test_config_check_refuses_a_bad_cron_and_an_unknown_receiver(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, expected: str
) -> None:
    monkeypatch.setenv("TW_TEST_FINE_URL", "json://127.0.0.1:9/ok")
    path = _with_chat(tmp_path, text)
    code, _out, err = _check(path)
    assert code == 2
    assert f"{path}{expected}" in err


# --- `up` refuses the same -----------------------------------------------------------


@pytest.fixture
def warden_env(database_url: str, tmp_path: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TRADEWARDEN_", "OTEL_", "SENTRY_", "TW_TEST_"))
        and key not in {"DATABASE_URL", "REDIS_URL"}
    }
    env.update(
        TRADEWARDEN_DATA_DIR=str(tmp_path / "data"),
        DATABASE_URL=database_url,
        TW_TEST_FINE_URL="json://127.0.0.1:9/ok",
    )
    return env


def _up(env: dict[str, str], path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "tradewarden",
            "up",
            "--config",
            str(path),
            "--host",
            "127.0.0.1",
            "--port",
            str(free_port()),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(("text", "expected"), REFUSED)
def test_up_refuses_a_bad_cron_and_an_unknown_receiver_with_exit_2(
    warden_env: dict[str, str], tmp_path: Path, text: str, expected: str
) -> None:
    path = _with_chat(tmp_path, text)
    result = _up(warden_env, path)
    assert result.returncode == 2, result.stderr
    assert f"{path}{expected}" in result.stderr
    assert "Traceback" not in result.stderr


def test_up_refuses_a_channel_that_cannot_send(warden_env: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "tw.yaml"
    path.write_text(
        "channels:\n  - {name: chat, type: apprise, url_env: TW_TEST_MISSING_URL}\n",
        encoding="utf-8",
    )
    result = _up(warden_env, path)
    assert result.returncode == 1, result.stderr
    assert "cannot start: channels: channel 'chat': environment variable TW_TEST_MISSING_URL" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr
