"""Build the control services from the settings and the config file's ``control`` section."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client import CollectorRegistry

from tradewarden.clock import Clock
from tradewarden.config import ControlConfig, Settings
from tradewarden.control._breakers import BreakerControl
from tradewarden.control._errors import ControlNotConfiguredError
from tradewarden.control._trading import TradingControl
from tradewarden.errors import ConfigError
from tradewarden.guard.state import MemoryBackend, RedisBackend, SQLiteBackend, StateBackend
from tradewarden.guard.trading import KillSwitch, register_trading_metrics
from tradewarden.redisconn._url import Redactor

__all__ = ["Control", "open_control", "trading_state_file"]

NO_REDIS = "no Redis is configured for the circuit breakers: set REDIS_URL"


@dataclass
class Control:
    """The warden's kill switch and, with Redis, the shared breakers."""

    trading: TradingControl
    breakers_or_none: BreakerControl | None
    watcher: KillSwitch | None = field(default=None, init=False)

    @property
    def breakers(self) -> BreakerControl:
        """Return the breakers; raise ControlNotConfiguredError without Redis."""
        if self.breakers_or_none is None:
            raise ControlNotConfiguredError(NO_REDIS)
        return self.breakers_or_none

    async def watch(self, registry: CollectorRegistry) -> KillSwitch:
        """Follow the stored state as a bot does and expose it on ``registry``.

        A ``KillSwitch`` with the bots' default policy (fail closed) that never changes
        anything: ``trading_state``, ``trading_state_version`` and
        ``trading_state_unreadable`` on the warden's ``/metrics`` say what a bot on this
        back end enforces, so an alert on a halt needs no bot to be scraped.
        """
        if self.watcher is None:
            self.watcher = await asyncio.to_thread(KillSwitch, self.trading.backend)
            register_trading_metrics(self.watcher, registry)
        return self.watcher

    def close(self) -> None:
        """Release the back end and the connections."""
        if self.watcher is not None:
            self.watcher.close()
        self.trading.close()
        if self.breakers_or_none is not None:
            self.breakers_or_none.close()


def trading_state_file(settings: Settings, config: ControlConfig) -> Path:
    """Return the file of the ``file`` back end (default: <data dir>/trading_state.db)."""
    return config.trading_state_file or settings.data_dir / "trading_state.db"


def open_control(settings: Settings, config: ControlConfig, clock: Clock) -> Control:
    """Build the services; nothing is connected or opened until first use.

    Raise ConfigError when the ``redis`` back end is chosen without ``REDIS_URL``.
    """
    url = settings.redis_url.get_secret_value() if settings.redis_url is not None else None
    redact = Redactor(url).redact if url is not None else str
    backend: StateBackend
    kind = config.trading_state_backend
    if kind == "memory":
        backend = MemoryBackend(history_limit=config.history_limit)
    elif kind == "file":
        backend = SQLiteBackend(trading_state_file(settings, config))
    else:
        if url is None:
            raise ConfigError("control.trading_state_backend is redis but REDIS_URL is not set")
        backend = RedisBackend(
            url,
            prefix=config.trading_state_prefix,
            history_limit=config.history_limit,
            socket_timeout_s=config.redis_timeout_s,
        )
    trading = TradingControl(backend, clock=clock, kind=kind, redact=redact)
    breakers = (
        BreakerControl(
            url,
            prefix=config.breaker_prefix,
            channel=config.breaker_channel,
            timeout_s=config.breaker_timeout_s,
            socket_timeout_s=config.redis_timeout_s,
        )
        if url is not None
        else None
    )
    return Control(trading, breakers)
