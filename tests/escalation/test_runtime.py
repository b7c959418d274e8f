"""The service escalates: deadlines are stored and a restarted runtime fires the next step."""

from __future__ import annotations

import pytest

from escalation.conftest import PAGE, PEOPLE, SCHEDULE, alert, channels, paths
from support.eventually import eventually
from support.notify_wire import WireServer
from tradewarden.auth import PasswordHasher
from tradewarden.clock import ManualClock
from tradewarden.config import ServiceConfig, Settings
from tradewarden.runtime import Runtime


@pytest.fixture
def config(wire: WireServer, monkeypatch: pytest.MonkeyPatch) -> ServiceConfig:
    """The conftest's people and schedule, their webhooks on the wire."""
    for channel in channels():
        monkeypatch.setenv(str(channel.url_env), f"json://127.0.0.1:{wire.port}/{channel.name}")
    return ServiceConfig(
        channels=tuple(channels()),
        people=PEOPLE,
        schedules=(SCHEDULE,),
        escalation_policies=(PAGE,),
    )


async def test_a_restarted_runtime_fires_the_next_step_on_time_and_nothing_twice(
    settings: Settings,
    config: ServiceConfig,
    fast_hasher: PasswordHasher,
    clock: ManualClock,
    wire: WireServer,
) -> None:
    first = Runtime(settings, config, clock=clock, hasher=fast_hasher)
    await first.start(bootstrap_admin=False, run_probes=True)
    try:
        assert first.escalator is not None
        await first.escalator.open("bot-down", alert(), PAGE)
        await eventually(lambda: sorted(paths(wire)) == ["/alice-hook", "/chat"])
        url = first.escalator.ack_url_for("bot-down")
    finally:
        await first.close()

    clock.advance(15 * 60)  # the secondary's turn came while the warden was down
    second = Runtime(settings, config, clock=clock, hasher=fast_hasher)
    await second.start(bootstrap_admin=False, run_probes=True)
    try:
        await eventually(lambda: "/bob-hook" in paths(wire))
        steps = second.registry.get_sample_value("escalation_steps_total", {"policy": "page"})
        assert steps == 1
        assert sorted(paths(wire)) == ["/alice-hook", "/bob-hook", "/chat"]
        assert second.escalator is not None
        # The same signing key, so the first instance's links still verify.
        assert url is not None
        assert second.escalator.links is not None
        token = url.rsplit("/", 1)[1]
        assert second.escalator.links.verify(token, now=clock.now()).key == "bot-down"
    finally:
        await second.close()
