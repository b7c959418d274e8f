"""The service runs the outbox worker; a channel that cannot send stops its start."""

from __future__ import annotations

import pytest

from notify.conftest import PD_KEY, message
from support.eventually import eventually
from support.notify_wire import WireServer
from tradewarden.auth import PasswordHasher
from tradewarden.clock import SystemClock
from tradewarden.config import ServiceConfig, Settings
from tradewarden.errors import ConfigError
from tradewarden.notify import PagerDutyChannelConfig
from tradewarden.runtime import Runtime


def _config(wire: WireServer) -> ServiceConfig:
    return ServiceConfig(
        channels=(
            PagerDutyChannelConfig(
                type="pagerduty",
                name="pager",
                routing_key_env="TW_TEST_PD_KEY",
                url=f"{wire.url}/v2/enqueue",
            ),
        )
    )


async def test_the_service_delivers_what_is_enqueued(
    settings: Settings,
    fast_hasher: PasswordHasher,
    wire: WireServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TW_TEST_PD_KEY", PD_KEY)
    runtime = Runtime(settings, _config(wire), clock=SystemClock(), hasher=fast_hasher)
    await runtime.start(bootstrap_admin=False, run_probes=True)
    try:
        assert runtime.notifier is not None
        await runtime.notifier.outbox.enqueue(message(), ["pager"])
        await eventually(lambda: len(wire.of("pagerduty")) == 1)
        await eventually(
            lambda: (
                runtime.registry.get_sample_value("notify_deliveries_total", {"channel": "pager"})
                == 1
            )
        )
    finally:
        await runtime.close()


async def test_a_missing_channel_secret_stops_the_service_but_not_the_admin_commands(
    settings: Settings,
    fast_hasher: PasswordHasher,
    wire: WireServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("TW_TEST_PD_KEY", raising=False)
    service = Runtime(settings, _config(wire), clock=SystemClock(), hasher=fast_hasher)
    try:
        with pytest.raises(ConfigError, match=r"channel 'pager'.*TW_TEST_PD_KEY"):
            await service.start(bootstrap_admin=False, run_probes=True)
    finally:
        await service.close()
    admin = Runtime(settings, _config(wire), clock=SystemClock(), hasher=fast_hasher)
    try:
        await admin.start(bootstrap_admin=False, connect_redis=False)
        assert admin.notifier is not None
    finally:
        await admin.close()
