"""Settings from the environment: one typed object, built at start-up, never at import.

Every variable may be spelled ``TRADEWARDEN_<NAME>``; the names operators already use
(``DATABASE_URL``, ``REDIS_URL``, ``LOG_LEVEL``, ``OTEL_*``, ``SENTRY_*``) work as well.
Every secret may instead come from a file named by ``<VARIABLE>_FILE`` (Docker and
Kubernetes secrets); setting both a secret and its ``_FILE`` is an error.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from tradewarden.errors import ConfigError

__all__ = ["SECRET_FIELDS", "Settings", "load_settings"]

LogFormat = Literal["auto", "json", "console"]
Environment = Literal["production", "development"]


def _names(name: str, *plain: str) -> AliasChoices:
    return AliasChoices(f"TRADEWARDEN_{name}", *plain)


class Settings(BaseSettings):
    """Deployment settings: where things are and the secrets to reach them."""

    model_config = SettingsConfigDict(
        extra="ignore",
        frozen=True,
        case_sensitive=True,
        populate_by_name=True,
    )

    environment: Environment = Field(
        default="production", validation_alias=_names("ENV", "TRADEWARDEN_ENVIRONMENT")
    )
    config_file: Path | None = Field(default=None, validation_alias=_names("CONFIG"))
    data_dir: Path = Field(default=Path(".tradewarden"), validation_alias=_names("DATA_DIR"))
    host: str | None = Field(default=None, validation_alias=_names("HOST"))
    port: int | None = Field(default=None, ge=1, le=65535, validation_alias=_names("PORT"))

    database_url: SecretStr | None = Field(
        default=None, validation_alias=_names("DATABASE_URL", "DATABASE_URL")
    )
    redis_url: SecretStr | None = Field(
        default=None, validation_alias=_names("REDIS_URL", "REDIS_URL")
    )
    jwt_secret: SecretStr | None = Field(default=None, validation_alias=_names("JWT_SECRET"))
    admin_password: SecretStr | None = Field(
        default=None, validation_alias=_names("ADMIN_PASSWORD")
    )

    log_level: str = Field(default="INFO", validation_alias=_names("LOG_LEVEL", "LOG_LEVEL"))
    log_format: LogFormat = Field(default="auto", validation_alias=_names("LOG_FORMAT"))

    otel_enabled: bool = Field(
        default=False, validation_alias=_names("OTEL_ENABLED", "OTEL_ENABLED")
    )
    otel_service_name: str = Field(
        default="tradewarden", validation_alias=_names("OTEL_SERVICE_NAME", "OTEL_SERVICE_NAME")
    )
    otel_exporter_otlp_endpoint: str | None = Field(
        default=None,
        validation_alias=_names("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"),
    )
    otel_exporter_otlp_headers: SecretStr | None = Field(
        default=None,
        validation_alias=_names("OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_HEADERS"),
    )

    sentry_dsn: SecretStr | None = Field(
        default=None, validation_alias=_names("SENTRY_DSN", "SENTRY_DSN")
    )
    sentry_environment: str | None = Field(
        default=None, validation_alias=_names("SENTRY_ENVIRONMENT", "SENTRY_ENVIRONMENT")
    )
    sentry_traces_sample_rate: float = Field(
        default=0.0,
        ge=0.0,
        le=1.0,
        validation_alias=_names("SENTRY_TRACES_SAMPLE_RATE", "SENTRY_TRACES_SAMPLE_RATE"),
    )

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return level

    @property
    def effective_database_url(self) -> str:
        """Return the database URL, defaulting to a SQLite file under ``data_dir``."""
        if self.database_url is not None:
            return self.database_url.get_secret_value()
        return f"sqlite+aiosqlite:///{(self.data_dir / 'tradewarden.db').as_posix()}"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, _SecretFileSource(settings_cls), env_settings)


# Field name -> every variable name that may carry it; each also accepts `<NAME>_FILE`.
SECRET_FIELDS: dict[str, tuple[str, ...]] = {
    "database_url": ("TRADEWARDEN_DATABASE_URL", "DATABASE_URL"),
    "redis_url": ("TRADEWARDEN_REDIS_URL", "REDIS_URL"),
    "jwt_secret": ("TRADEWARDEN_JWT_SECRET",),
    "admin_password": ("TRADEWARDEN_ADMIN_PASSWORD",),
    "otel_exporter_otlp_headers": (
        "TRADEWARDEN_OTEL_EXPORTER_OTLP_HEADERS",
        "OTEL_EXPORTER_OTLP_HEADERS",
    ),
    "sentry_dsn": ("TRADEWARDEN_SENTRY_DSN", "SENTRY_DSN"),
}


class _SecretFileSource(EnvSettingsSource):
    """Read ``<VARIABLE>_FILE`` for every secret field."""

    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        super().__init__(settings_cls, case_sensitive=True)

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        return read_secret_files(os.environ)


def read_secret_files(environ: Mapping[str, str]) -> dict[str, Any]:
    """Return secret field values read from the files that ``*_FILE`` variables name."""
    values: dict[str, Any] = {}
    for field_name, variables in SECRET_FIELDS.items():
        for variable in variables:
            file_variable = f"{variable}_FILE"
            path = environ.get(file_variable)
            if not path:
                continue
            if environ.get(variable):
                raise ConfigError(f"{variable} and {file_variable} are both set: set only one")
            try:
                content = Path(path).read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigError(
                    f"{file_variable}: cannot read {path}: {exc.strerror or exc}"
                ) from exc
            if not content:
                raise ConfigError(f"{file_variable}: {path} is empty")
            values[field_name] = content
            break
    return values


def load_settings(**overrides: Any) -> Settings:
    """Build the settings from the environment (and ``overrides``), or raise ConfigError."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            where = ".".join(str(part) for part in error["loc"]) or "settings"
            problems.append(f"{where}: {error['msg']}")
        raise ConfigError("invalid environment settings: " + "; ".join(problems)) from exc
