"""The heartbeat kind's decision and the board of pings (pure, with a manual clock)."""

from __future__ import annotations

import httpx
import pytest
from pydantic import ValidationError

from tradewarden.clock import ManualClock
from tradewarden.probes import Beat, HeartbeatBoard, ProbeContext, ProbeResult
from tradewarden.probes.kinds import HeartbeatSpec


class MemoryBeats:
    def __init__(self) -> None:
        self.saved: dict[str, Beat] = {}

    async def load_all(self) -> dict[str, Beat]:
        return dict(self.saved)

    async def save(self, name: str, beat: Beat) -> None:
        self.saved[name] = beat


async def _check(spec: HeartbeatSpec, board: HeartbeatBoard, clock: ManualClock) -> ProbeResult:
    async with httpx.AsyncClient() as http:
        context = ProbeContext(clock=clock, timeout_s=1, http=http, heartbeats=board)
        return await spec.build().run(context)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(start=1_800_000_000.0)


@pytest.fixture
def spec() -> HeartbeatSpec:
    return HeartbeatSpec(name="loop", period_s=60, grace_s=30)


async def test_interval_defaults_to_a_fraction_of_the_grace() -> None:
    assert HeartbeatSpec(name="a", period_s=60, grace_s=10).interval_s == 10
    assert HeartbeatSpec(name="b", period_s=600, grace_s=300).interval_s == 30
    assert HeartbeatSpec(name="c", period_s=60, grace_s=30, interval_s=5).interval_s == 5


async def test_never_pinged_waits_then_goes_down(spec: HeartbeatSpec, clock: ManualClock) -> None:
    board = HeartbeatBoard(None, clock)
    waiting = await _check(spec, board, clock)
    assert (waiting.success, waiting.degraded) == (True, True)
    clock.advance(91)
    silent = await _check(spec, board, clock)
    assert not silent.success
    assert silent.error == "never pinged in 91 s"


async def test_on_time_late_and_missing(spec: HeartbeatSpec, clock: ManualClock) -> None:
    board = HeartbeatBoard(None, clock)
    await board.ping("loop", "success")
    assert (await _check(spec, board, clock)).error is None
    clock.advance(70)
    late = await _check(spec, board, clock)
    assert (late.success, late.degraded, late.error) == (True, True, "late: last ping 70 s ago")
    clock.advance(21)
    missing = await _check(spec, board, clock)
    assert not missing.success
    assert missing.error == "last ping 91 s ago (period 60 s + grace 30 s)"
    seen = {s.name: s.value for s in missing.samples}
    assert seen["heartbeat_last_seen_timestamp_seconds"] == 1_800_000_000.0


async def test_fail_is_down_at_once_with_the_message(
    spec: HeartbeatSpec, clock: ManualClock
) -> None:
    board = HeartbeatBoard(None, clock)
    await board.ping("loop", "fail", "exchange rejected the order")
    result = await _check(spec, board, clock)
    assert not result.success
    assert result.error == "the job reported a failure: exchange rejected the order"
    await board.ping("loop", "success")
    assert (await _check(spec, board, clock)).success


async def test_start_then_success_records_the_run_duration(
    spec: HeartbeatSpec, clock: ManualClock
) -> None:
    store = MemoryBeats()
    board = HeartbeatBoard(store, clock)
    await board.ping("loop", "start")
    clock.advance(12.5)
    beat = await board.ping("loop", "success")
    assert beat.last_duration_s == 12.5
    assert beat.pings_total == 2
    result = await _check(spec, board, clock)
    assert {s.name: s.value for s in result.samples}["heartbeat_run_duration_seconds"] == 12.5
    assert store.saved["loop"] == beat
    reloaded = HeartbeatBoard(store, clock)
    await reloaded.load()
    assert reloaded.get("loop") == beat


def test_token_comes_from_env_or_file_never_inline(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    monkeypatch.setenv("HB_TOKEN", "t0ken-value")
    spec = HeartbeatSpec(name="x", period_s=60, token_env="HB_TOKEN")
    assert spec.accepts("t0ken-value")
    assert not spec.accepts("other")
    with pytest.raises(ValidationError) as caught:
        HeartbeatSpec(name="x", period_s=60, token="inline")  # type: ignore[call-arg]
    assert caught.value.errors()[0]["loc"] == ("token",)
    without = HeartbeatSpec(name="y", period_s=60)
    assert not without.accepts("")
