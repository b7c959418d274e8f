"""Settings from the environment, aliases and ``*_FILE`` secrets."""

from __future__ import annotations

from pathlib import Path

import pytest

from tradewarden.config import load_settings
from tradewarden.errors import ConfigError


def test_defaults_use_a_sqlite_file_under_the_data_dir() -> None:
    settings = load_settings()
    assert settings.effective_database_url == "sqlite+aiosqlite:///.tradewarden/tradewarden.db"
    assert settings.redis_url is None
    assert settings.log_level == "INFO"
    assert settings.otel_enabled is False


def test_operator_names_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p@db/tw")
    monkeypatch.setenv("REDIS_URL", "redis://cache:6379/0")
    monkeypatch.setenv("LOG_LEVEL", "debug")
    monkeypatch.setenv("OTEL_ENABLED", "true")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "warden-eu")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-api-key=abc")
    monkeypatch.setenv("SENTRY_DSN", "http://key@127.0.0.1:9/1")
    monkeypatch.setenv("SENTRY_ENVIRONMENT", "staging")
    monkeypatch.setenv("SENTRY_TRACES_SAMPLE_RATE", "0.25")
    settings = load_settings()
    assert settings.effective_database_url == "postgresql://u:p@db/tw"
    assert settings.redis_url is not None
    assert settings.redis_url.get_secret_value() == "redis://cache:6379/0"
    assert settings.log_level == "DEBUG"
    assert settings.otel_enabled is True
    assert settings.otel_service_name == "warden-eu"
    assert settings.otel_exporter_otlp_endpoint == "http://127.0.0.1:4318"
    assert settings.sentry_environment == "staging"
    assert settings.sentry_traces_sample_rate == 0.25


def test_prefixed_name_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRADEWARDEN_DATABASE_URL", "postgresql://a@b/c")
    assert load_settings().effective_database_url == "postgresql://a@b/c"


def test_secrets_are_hidden_from_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:hunter2@db/tw")
    monkeypatch.setenv("TRADEWARDEN_JWT_SECRET", "x" * 40)
    assert "hunter2" not in repr(load_settings())
    assert "xxxx" not in repr(load_settings())


@pytest.mark.parametrize(
    ("variable", "field"),
    [
        ("DATABASE_URL", "database_url"),
        ("REDIS_URL", "redis_url"),
        ("TRADEWARDEN_JWT_SECRET", "jwt_secret"),
        ("TRADEWARDEN_ADMIN_PASSWORD", "admin_password"),
        ("SENTRY_DSN", "sentry_dsn"),
        ("OTEL_EXPORTER_OTLP_HEADERS", "otel_exporter_otlp_headers"),
    ],
)
def test_every_secret_can_come_from_a_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, variable: str, field: str
) -> None:
    secret = tmp_path / "secret"
    secret.write_text("value-from-file\n", encoding="utf-8")
    monkeypatch.setenv(f"{variable}_FILE", str(secret))
    value = getattr(load_settings(), field)
    assert value.get_secret_value() == "value-from-file"


def test_secret_and_its_file_together_are_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    secret = tmp_path / "secret"
    secret.write_text("a", encoding="utf-8")
    monkeypatch.setenv("REDIS_URL", "redis://x")
    monkeypatch.setenv("REDIS_URL_FILE", str(secret))
    with pytest.raises(ConfigError, match="REDIS_URL and REDIS_URL_FILE are both set"):
        load_settings()


def test_unreadable_secret_file_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SENTRY_DSN_FILE", str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match="SENTRY_DSN_FILE: cannot read"):
        load_settings()


def test_empty_secret_file_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_text("  \n", encoding="utf-8")
    monkeypatch.setenv("TRADEWARDEN_JWT_SECRET_FILE", str(empty))
    with pytest.raises(ConfigError, match="is empty"):
        load_settings()


@pytest.mark.parametrize(
    ("variable", "value", "field"),
    [
        ("LOG_LEVEL", "LOUD", "log_level"),
        ("SENTRY_TRACES_SAMPLE_RATE", "2", "sentry_traces_sample_rate"),
        ("TRADEWARDEN_PORT", "70000", "TRADEWARDEN_PORT"),
        ("OTEL_ENABLED", "maybe", "OTEL_ENABLED"),
    ],
)
def test_invalid_value_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, field: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert variable in caught.value.message or field in caught.value.message
