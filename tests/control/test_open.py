"""open_control: the configured back end, its default file, and a loud failure without Redis."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from support.eventually import eventually
from tradewarden.clock import ManualClock
from tradewarden.config import ControlConfig, Settings, parse_config_text
from tradewarden.control import ControlNotConfiguredError, open_control, trading_state_file
from tradewarden.errors import ConfigError
from tradewarden.guard.state import MemoryBackend, RedisBackend, SQLiteBackend


def _settings(tmp_path: Path, redis_url: str | None = None) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        redis_url=SecretStr(redis_url) if redis_url is not None else None,
    )


def test_the_file_back_end_defaults_under_the_data_dir(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    control = open_control(settings, ControlConfig(), ManualClock())
    try:
        assert isinstance(control.trading.backend, SQLiteBackend)
        assert control.trading.backend.path == tmp_path / "data" / "trading_state.db"
        assert not control.trading.backend.path.exists()  # nothing opened before first use
        with pytest.raises(ControlNotConfiguredError, match="REDIS_URL"):
            _ = control.breakers
    finally:
        control.close()
    explicit = ControlConfig(trading_state_file=tmp_path / "elsewhere.db")
    assert trading_state_file(settings, explicit) == tmp_path / "elsewhere.db"


def test_memory_and_redis_back_ends(tmp_path: Path) -> None:
    memory = open_control(
        _settings(tmp_path), ControlConfig(trading_state_backend="memory"), ManualClock()
    )
    assert isinstance(memory.trading.backend, MemoryBackend)
    memory.close()
    redis = open_control(
        _settings(tmp_path, "redis://127.0.0.1:1/0"),
        ControlConfig(trading_state_backend="redis", trading_state_prefix="bots"),
        ManualClock(),
    )
    try:
        assert isinstance(redis.trading.backend, RedisBackend)
        assert redis.trading.backend.state_key == "bots:state"
        assert redis.breakers.prefix == "circuit_breaker:"
    finally:
        redis.close()


def test_the_redis_back_end_without_redis_url_fails_at_start(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="REDIS_URL is not set"):
        open_control(
            _settings(tmp_path), ControlConfig(trading_state_backend="redis"), ManualClock()
        )


def test_the_config_file_section_is_validated_with_its_line() -> None:
    text = "control:\n  trading_state_backend: postgres\n"
    with pytest.raises(ConfigError, match=r"<config>:2: control\.trading_state_backend"):
        parse_config_text(text)


def test_the_public_surface_is_all() -> None:
    module = importlib.import_module("tradewarden.control")
    public = {name for name in vars(module) if not name.startswith("_")}
    assert public - {"annotations"} == set(module.__all__)
    for name in module.__all__:
        assert getattr(module, name) is not None


async def test_the_watcher_exposes_what_a_bot_enforces(tmp_path: Path) -> None:
    control = open_control(_settings(tmp_path), ControlConfig(), ManualClock())
    registry = CollectorRegistry()
    try:
        watcher = await control.watch(registry)
        assert await control.watch(registry) is watcher  # one per control
        assert registry.get_sample_value("trading_state") == 0
        await control.trading.halt("alice", "emergency")
        await eventually(lambda: registry.get_sample_value("trading_state") == 2)
        assert registry.get_sample_value("trading_state_version") == 1
        assert registry.get_sample_value("trading_state_unreadable") == 0
    finally:
        control.close()
