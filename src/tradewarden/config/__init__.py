"""Settings (environment) and the config file (``tradewarden.yaml``)."""

from tradewarden.config._example import EXAMPLE_CONFIG
from tradewarden.config._file import (
    AuthConfig,
    ControlConfig,
    LoginRateLimitConfig,
    ProbesConfig,
    RedisConfig,
    ServerConfig,
    ServiceConfig,
    load_config_file,
    parse_config_text,
)
from tradewarden.config._settings import SECRET_FIELDS, Settings, load_settings

__all__ = [
    "EXAMPLE_CONFIG",
    "SECRET_FIELDS",
    "AuthConfig",
    "ControlConfig",
    "LoginRateLimitConfig",
    "ProbesConfig",
    "RedisConfig",
    "ServerConfig",
    "ServiceConfig",
    "Settings",
    "load_config_file",
    "load_settings",
    "parse_config_text",
]
