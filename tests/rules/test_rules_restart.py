"""A restart of the warden keeps ``for`` clocks: ALERTS_FOR_STATE goes into the store's
snapshot at shutdown and the next start restores the alerts' active-at from it."""

from __future__ import annotations

from pathlib import Path

from tradewarden.auth import PasswordHasher
from tradewarden.clock import ManualClock
from tradewarden.config import Settings, load_config_file
from tradewarden.rules import AlertState
from tradewarden.runtime import Runtime
from tradewarden.series import Labels

RULES = """\
groups:
  - name: bots
    rules:
      - alert: BotSlow
        expr: bot_latency_seconds > 1
        for: 20m
"""
LATENCY = Labels.of(__name__="bot_latency_seconds", bot="alpha")


def _runtime(
    settings: Settings, hasher: PasswordHasher, config_path: Path, clock: ManualClock
) -> Runtime:
    return Runtime(
        settings, load_config_file(config_path), config_path=config_path, clock=clock, hasher=hasher
    )


async def test_a_restart_keeps_the_for_clock(
    settings: Settings, fast_hasher: PasswordHasher, tmp_path: Path
) -> None:
    (tmp_path / "bots.yml").write_text(RULES)
    config_path = tmp_path / "tw.yaml"
    config_path.write_text("rules:\n  packs: []\n  files: [bots.yml]\n")
    clock = ManualClock(1_700_000_000.0)

    first = _runtime(settings, fast_hasher, config_path, clock)
    await first.start(bootstrap_admin=False, run_probes=True)
    try:
        for _ in range(8):  # pending for two minutes
            first.series.append(LATENCY, int(clock.now() * 1000), 3.0)
            await first.rules.evaluate_now()
            clock.advance(15)
        ((alert, _rule, _group),) = first.rules.alerts()
        active_at_ms = alert.active_at_ms
        last_eval_ms = alert.last_eval_ms
    finally:
        await first.close()  # writes the snapshot

    clock.advance(45)  # down for a minute since the last evaluation
    second = _runtime(settings, fast_hasher, config_path, clock)
    await second.start(bootstrap_admin=False, run_probes=True)
    try:
        ((restored, _rule, _group),) = second.rules.alerts()
        down_ms = int(clock.now() * 1000) - last_eval_ms
        assert restored.state is AlertState.PENDING
        assert restored.active_at_ms == active_at_ms + down_ms
    finally:
        await second.close()
