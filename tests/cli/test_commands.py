"""The command line: config validation, init, users, API keys, db upgrade, version."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tradewarden._version import __version__
from tradewarden.cli import app
from tradewarden.config import EXAMPLE_CONFIG
from tradewarden.store import head_revision

runner = CliRunner()


@pytest.fixture
def db_env(monkeypatch: pytest.MonkeyPatch, database_url: str, tmp_path: Path) -> str:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("TRADEWARDEN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    return database_url


def test_version() -> None:
    result = runner.invoke(app, ["version"])
    assert result.exit_code == 0
    assert __version__ in result.stdout


def test_init_writes_the_example_and_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "tw.yaml"
    first = runner.invoke(app, ["init", "--path", str(path)])
    assert first.exit_code == 0
    assert path.read_text(encoding="utf-8") == EXAMPLE_CONFIG
    second = runner.invoke(app, ["init", "--path", str(path)])
    assert second.exit_code == 1
    assert "already exists" in second.stderr
    forced = runner.invoke(app, ["init", "--path", str(path), "--force"])
    assert forced.exit_code == 0


def test_config_check_accepts_a_valid_file(tmp_path: Path) -> None:
    path = tmp_path / "tw.yaml"
    path.write_text(EXAMPLE_CONFIG, encoding="utf-8")
    result = runner.invoke(app, ["config", "check", "--config", str(path)])
    assert result.exit_code == 0
    assert "config ok" in result.stdout


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("server:\n  port: [1\n", "invalid YAML"),
        ("server:\n  colour: red\n", ":2: server.colour: unknown field"),
        ("server:\n  port: high\n", ":2: server.port: Input should be a valid integer"),
    ],
)
def test_config_check_rejects_with_exit_2(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "tw.yaml"
    path.write_text(text, encoding="utf-8")
    result = runner.invoke(app, ["config", "check", "--config", str(path)])
    assert result.exit_code == 2
    assert expected in result.stderr
    assert "Traceback" not in result.output


def test_config_check_reads_the_environment_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "tw.yaml"
    path.write_text("version: 2\n", encoding="utf-8")
    monkeypatch.setenv("TRADEWARDEN_CONFIG", str(path))
    result = runner.invoke(app, ["config", "check"])
    assert result.exit_code == 2
    assert f"{path}:1: version:" in result.stderr


def test_invalid_environment_exits_2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOG_LEVEL", "chatty")
    result = runner.invoke(app, ["config", "check"])
    assert result.exit_code == 2
    assert "log_level" in result.stderr.lower() or "LOG_LEVEL" in result.stderr


def test_db_upgrade_reports_the_head(db_env: str) -> None:
    result = runner.invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert f"revision {head_revision()} (head {head_revision()})" in result.stdout


def test_user_lifecycle(db_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRADEWARDEN_PASSWORD", "a-long-enough-password")
    created = runner.invoke(
        app, ["user", "create", "ops", "--role", "operator", "--reason", "oncall"]
    )
    assert created.exit_code == 0, created.output
    assert "created user 'ops' with role operator" in created.stdout
    listed = runner.invoke(app, ["user", "list"])
    assert "ops" in listed.stdout
    assert "operator" in listed.stdout
    assert runner.invoke(app, ["user", "set-role", "ops", "admin"]).exit_code == 0
    assert runner.invoke(app, ["user", "disable", "ops", "--reason", "left"]).exit_code == 0
    listed = runner.invoke(app, ["user", "list"])
    assert "yes" in listed.stdout
    assert runner.invoke(app, ["user", "enable", "ops"]).exit_code == 0
    monkeypatch.setenv("TRADEWARDEN_PASSWORD", "another-long-password")
    assert runner.invoke(app, ["user", "set-password", "ops"]).exit_code == 0


def test_user_create_with_generated_password_prints_it_once(db_env: str) -> None:
    result = runner.invoke(app, ["user", "create", "admin", "--role", "admin", "--generate"])
    assert result.exit_code == 0, result.output
    assert "one-time password (shown only now): " in result.stdout


def test_user_create_reads_a_password_file(db_env: str, tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("password-from-a-file\n", encoding="utf-8")
    result = runner.invoke(app, ["user", "create", "filer", "--password-file", str(secret)])
    assert result.exit_code == 0, result.output


def test_user_errors_are_one_line(db_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRADEWARDEN_PASSWORD", "a-long-enough-password")
    runner.invoke(app, ["user", "create", "dup"])
    duplicate = runner.invoke(app, ["user", "create", "dup"])
    assert duplicate.exit_code == 1
    assert duplicate.stderr.strip() == "error: user 'dup' already exists"
    weak = runner.invoke(app, ["user", "create", "weak"], env={"TRADEWARDEN_PASSWORD": "short"})
    assert weak.exit_code == 1
    assert "at least 12 characters" in weak.stderr
    role = runner.invoke(app, ["user", "create", "r", "--role", "god"])
    assert role.exit_code == 1
    assert "--role: unknown role 'god'" in role.stderr
    missing = runner.invoke(app, ["user", "disable", "ghost"])
    assert missing.exit_code == 1
    assert "user 'ghost' does not exist" in missing.stderr
    for result in (duplicate, weak, role, missing):
        assert "Traceback" not in result.output


def test_apikey_lifecycle(db_env: str) -> None:
    created = runner.invoke(app, ["apikey", "create", "bot-1", "--role", "operator"])
    assert created.exit_code == 0, created.output
    key = created.stdout.strip().splitlines()[-1]
    assert key.startswith("tw_")
    listed = runner.invoke(app, ["apikey", "list"])
    assert "bot-1" in listed.stdout
    assert key not in listed.stdout
    revoked = runner.invoke(app, ["apikey", "revoke", "1", "--reason", "rotated"])
    assert revoked.exit_code == 0, revoked.output
    assert "bot-1" not in runner.invoke(app, ["apikey", "list"]).stdout
    assert "bot-1" in runner.invoke(app, ["apikey", "list", "--include-revoked"]).stdout
    again = runner.invoke(app, ["apikey", "revoke", "1"])
    assert again.exit_code == 1
    assert "already revoked" in again.stderr


def test_bad_arguments_exit_non_zero(db_env: str) -> None:
    result = runner.invoke(app, ["apikey", "revoke", "not-a-number"])
    assert result.exit_code == 2
    assert "Traceback" not in result.output


def test_status_reports_an_unreachable_warden(tmp_path: Path) -> None:
    result = runner.invoke(app, ["status", "--url", "http://127.0.0.1:9"])
    assert result.exit_code == 1
    assert "cannot reach the warden" in result.stderr
