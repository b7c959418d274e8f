"""The scheduler against fake targets, in real time (short intervals, polled waits)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, generate_latest

from probes._fakes import BEHAVIOUR, CALLS, FakeSpec, MemoryFlips, degraded, down, up
from probes._targets import HttpTarget
from support.eventually import eventually
from tradewarden.clock import SystemClock
from tradewarden.probes import ConsecutivePolicy, Flip, Probe, ProbeMetrics, Scheduler
from tradewarden.probes._scheduler import first_offset, next_due
from tradewarden.probes.kinds import HttpSpec


@pytest.fixture(autouse=True)
def _reset_fakes() -> None:
    BEHAVIOUR.clear()
    CALLS.clear()


@pytest.fixture
def flips() -> MemoryFlips:
    return MemoryFlips()


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
async def scheduler(flips: MemoryFlips, registry: CollectorRegistry) -> AsyncIterator[Scheduler]:
    async with httpx.AsyncClient() as http:
        scheduler = Scheduler(
            clock=SystemClock(), flips=flips, sink=ProbeMetrics(registry), http=http
        )
        yield scheduler
        await scheduler.stop()


def spec(name: str, **fields: object) -> FakeSpec:
    fields.setdefault("interval_s", 0.5)
    fields.setdefault("timeout_s", 0.4)
    return FakeSpec(name=name, **fields)  # type: ignore[arg-type]


async def test_a_healthy_target_goes_up_and_the_flip_is_recorded(
    scheduler: Scheduler, flips: MemoryFlips
) -> None:
    await scheduler.start([spec("api")])
    await eventually(lambda: flips.of("api") == [("PENDING", "UP")])
    status = scheduler.get("api")
    assert status is not None
    assert status.state == "UP"
    await eventually(lambda: CALLS.get("api", 0) >= 3)
    assert flips.of("api") == [("PENDING", "UP")]


async def test_failures_go_down_after_the_policy_and_recover(
    scheduler: Scheduler, flips: MemoryFlips
) -> None:
    BEHAVIOUR["api"] = down
    await scheduler.start([spec("api", failure=ConsecutivePolicy(down_after=3))])
    await eventually(lambda: flips.of("api") == [("PENDING", "DOWN")], timeout_s=10)
    assert CALLS["api"] >= 3
    assert "3 consecutive failures: target said no" in flips.flips[-1].reason
    BEHAVIOUR["api"] = up
    await eventually(lambda: flips.of("api")[-1] == ("DOWN", "UP"))


async def test_degraded_target(scheduler: Scheduler, flips: MemoryFlips) -> None:
    BEHAVIOUR["api"] = degraded
    await scheduler.start([spec("api")])
    await eventually(lambda: flips.of("api") == [("PENDING", "DEGRADED")])


async def test_a_hung_target_times_out_and_does_not_delay_others(
    scheduler: Scheduler, flips: MemoryFlips
) -> None:
    BEHAVIOUR["stuck"] = "hang"
    await scheduler.start([spec("stuck", failure=ConsecutivePolicy(down_after=1)), spec("fine")])
    await eventually(lambda: flips.of("stuck") == [("PENDING", "DOWN")])
    stuck = scheduler.get("stuck")
    assert stuck is not None
    assert stuck.last_result is not None
    assert stuck.last_result.error == "timed out after 0.4 s"
    calls_before = CALLS.get("fine", 0)
    await eventually(lambda: CALLS.get("fine", 0) >= calls_before + 3)


async def test_a_probe_that_keeps_to_its_deadline_names_what_stalled(
    scheduler: Scheduler, flips: MemoryFlips
) -> None:
    # The scheduler's own cut-off comes a little later, so the probe's message stands.
    with HttpTarget() as target:
        hung = HttpSpec(
            name="hung",
            url=target.url("/hang"),
            interval_s=0.5,
            timeout_s=0.3,
            failure=ConsecutivePolicy(down_after=1),
        )
        await scheduler.start([hung])
        await eventually(lambda: flips.of("hung") == [("PENDING", "DOWN")])
        status = scheduler.get("hung")
        assert status is not None
        assert status.last_result is not None
        assert status.last_result.error is not None
        assert status.last_result.error.startswith(
            "timed out (waiting for the response) after 0.3 s (GET http://127.0.0.1:"
        )
        await scheduler.stop()


async def test_a_probe_that_raises_is_a_down_result_with_a_redacted_error(
    scheduler: Scheduler, flips: MemoryFlips
) -> None:
    BEHAVIOUR["bad"] = "raise"
    await scheduler.start([spec("bad", failure=ConsecutivePolicy(down_after=1)), spec("ok")])
    await eventually(lambda: flips.of("bad") == [("PENDING", "DOWN")])
    bad = scheduler.get("bad")
    assert bad is not None
    assert bad.last_result is not None
    error = bad.last_result.error or ""
    assert "probe error: ValueError: garbage from target" in error
    assert "hunter2" not in error
    await eventually(lambda: flips.of("ok") == [("PENDING", "UP")])


async def test_a_flip_is_stored_before_listeners_hear_of_it(
    scheduler: Scheduler, flips: MemoryFlips
) -> None:
    heard: list[tuple[Flip, bool]] = []
    scheduler.on_flip(lambda flip: heard.append((flip, flip in flips.flips)))
    await scheduler.start([spec("api")])
    await eventually(lambda: len(heard) == 1)
    assert heard[0][1] is True


async def test_an_unstored_flip_is_not_applied_and_retried(
    scheduler: Scheduler, flips: MemoryFlips
) -> None:
    flips.failing = True
    heard: list[Flip] = []
    scheduler.on_flip(heard.append)
    await scheduler.start([spec("api")])
    await eventually(lambda: CALLS.get("api", 0) >= 2)
    status = scheduler.get("api")
    assert status is not None
    assert status.state == "PENDING"
    assert heard == []
    flips.failing = False
    await eventually(lambda: flips.of("api") == [("PENDING", "UP")])
    assert [flip.new for flip in heard] == ["UP"]


async def test_states_are_restored_after_a_restart(registry: CollectorRegistry) -> None:
    flips = MemoryFlips(restored={"api": "DOWN"})
    BEHAVIOUR["api"] = down
    async with httpx.AsyncClient() as http:
        scheduler = Scheduler(
            clock=SystemClock(), flips=flips, sink=ProbeMetrics(registry), http=http
        )
        await scheduler.start([spec("api")])
        try:
            status = scheduler.get("api")
            assert status is not None
            assert status.state == "DOWN"
            await eventually(lambda: CALLS.get("api", 0) >= 2)
            assert flips.flips == []  # still DOWN: no flip to write
        finally:
            await scheduler.stop()


async def test_pause_and_resume_are_flips_and_stop_the_checks(
    scheduler: Scheduler, flips: MemoryFlips
) -> None:
    await scheduler.start([spec("api")])
    await eventually(lambda: flips.of("api") == [("PENDING", "UP")])
    await scheduler.pause("api", "maintenance window")
    calls = CALLS["api"]
    await eventually(lambda: flips.of("api")[-1] == ("UP", "PAUSED"))
    assert flips.flips[-1].reason == "maintenance window"
    # A paused monitor is not scheduled: no run can start after the pause.
    status = scheduler.get("api")
    assert status is not None
    assert status.paused
    assert CALLS["api"] <= calls + 1  # at most the run already in flight
    await scheduler.resume("api", "")
    await eventually(lambda: flips.of("api")[-2:] == [("PAUSED", "PENDING"), ("PENDING", "UP")])


async def test_an_operator_pause_is_latched_across_a_reload_and_a_restart(
    scheduler: Scheduler, flips: MemoryFlips
) -> None:
    await scheduler.start([spec("api"), spec("other")])
    await eventually(lambda: flips.of("api") == [("PENDING", "UP")])
    await scheduler.pause("api", "provider maintenance")
    scheduler.apply([spec("api", interval_s=0.6), spec("other")])  # a reload that changes it
    status = scheduler.get("api")
    assert status is not None
    assert status.paused
    assert status.state == "PAUSED"
    await scheduler.stop()

    calls, calls_of_other = CALLS["api"], CALLS.get("other", 0)
    restored = MemoryFlips(restored={"api": "PAUSED", "other": "UP"})
    async with httpx.AsyncClient() as http:
        sink = ProbeMetrics(CollectorRegistry())  # a new process, a new registry
        again = Scheduler(clock=SystemClock(), flips=restored, sink=sink, http=http)
        await again.start([spec("api"), spec("other")])
        try:
            # "other" runs its checks; "api" is never started, though its spec is unpaused.
            await eventually(lambda: CALLS.get("other", 0) >= calls_of_other + 3)
            status = again.get("api")
            assert status is not None
            assert status.paused
            assert status.state == "PAUSED"
            assert CALLS["api"] == calls
            await again.resume("api", "maintenance over")
            await eventually(
                lambda: restored.of("api")[-2:] == [("PAUSED", "PENDING"), ("PENDING", "UP")]
            )
        finally:
            await again.stop()


async def test_run_now_checks_at_once(scheduler: Scheduler) -> None:
    await scheduler.start([spec("api", interval_s=3600, timeout_s=1)])
    record = await scheduler.run_now("api")
    assert record.success
    assert record.state == "UP"
    with pytest.raises(KeyError):
        await scheduler.run_now("nope")


async def test_apply_adds_removes_and_changes(
    scheduler: Scheduler, registry: CollectorRegistry
) -> None:
    await scheduler.start([spec("a"), spec("b")])
    await eventually(lambda: 'probe_success{kind="fake",monitor="b"}' in _text(registry))
    summary = scheduler.apply([spec("a", interval_s=1.0), spec("c")])
    assert (summary.added, summary.removed, summary.changed) == (("c",), ("b",), ("a",))
    assert [status.spec.name for status in scheduler.all()] == ["a", "c"]
    assert 'monitor="b"' not in _text(registry)
    unchanged = scheduler.apply([spec("a", interval_s=1.0), spec("c")])
    assert unchanged == type(unchanged)((), (), ())


class _Unbuildable(FakeSpec):
    def build(self) -> Probe:
        raise RuntimeError("cannot build")


async def test_apply_changes_nothing_when_a_probe_cannot_be_built(scheduler: Scheduler) -> None:
    await scheduler.start([spec("a"), spec("b")])
    with pytest.raises(RuntimeError, match="cannot build"):
        scheduler.apply([spec("a", interval_s=1.0), _Unbuildable(name="c", interval_s=0.5)])
    assert [(s.spec.name, s.spec.interval_s) for s in scheduler.all()] == [("a", 0.5), ("b", 0.5)]


async def test_put_adds_or_replaces_one_monitor_and_remove_forgets_it(
    scheduler: Scheduler, flips: MemoryFlips, registry: CollectorRegistry
) -> None:
    await scheduler.start([spec("a")])
    assert scheduler.put(spec("b"))
    await eventually(lambda: flips.of("b") == [("PENDING", "UP")])
    assert not scheduler.put(spec("b"))  # unchanged: keeps running as it was
    assert scheduler.put(spec("b", interval_s=1.0))
    status = scheduler.get("b")
    assert status is not None
    assert (status.state, status.spec.interval_s) == ("UP", 1.0)
    await eventually(lambda: 'monitor="b"' in _text(registry))
    assert scheduler.remove("b")
    assert not scheduler.remove("b")
    assert [s.spec.name for s in scheduler.all()] == ["a"]
    assert 'monitor="b"' not in _text(registry)


async def test_a_check_in_flight_when_its_monitor_is_removed_does_not_count(
    scheduler: Scheduler, flips: MemoryFlips, registry: CollectorRegistry
) -> None:
    BEHAVIOUR["gone"] = "hang"
    await scheduler.start([spec("gone", interval_s=1.0, timeout_s=1.0, failure={"down_after": 1})])
    await eventually(lambda: CALLS.get("gone", 0) >= 1)
    old = scheduler.get("gone")
    assert old is not None
    assert old.running
    scheduler.remove("gone")
    await eventually(lambda: not old.running)  # the check timed out after the removal
    assert flips.of("gone") == []
    assert 'monitor="gone"' not in _text(registry)


async def test_results_are_published_as_series(
    scheduler: Scheduler, registry: CollectorRegistry
) -> None:
    await scheduler.start([spec("api", labels={"team": "core"})])
    await eventually(lambda: 'probe_success{kind="fake",monitor="api"} 1.0' in _text(registry))
    text = _text(registry)
    assert 'monitor_state{monitor="api",state="UP"} 1.0' in text
    assert 'monitor_state{monitor="api",state="DOWN"} 0.0' in text
    assert 'fake_value{monitor="api",side="a"} 1.0' in text
    assert 'probe_duration_seconds{kind="fake",monitor="api"}' in text


def _text(registry: CollectorRegistry) -> str:
    return generate_latest(registry).decode()


@given(
    due=st.floats(min_value=0, max_value=1e6),
    interval=st.floats(min_value=0.5, max_value=86_400),
    late=st.floats(min_value=0, max_value=1e6),
)
def test_next_due_keeps_the_phase_and_is_in_the_future(
    due: float, interval: float, late: float
) -> None:
    now = due + late
    following = next_due(due, interval, now)
    assert following > now
    assert following - now <= interval + 1e-6 * max(1.0, now)
    periods = (following - due) / interval
    assert abs(periods - round(periods)) < 1e-6 * max(1.0, periods)


def test_first_runs_are_spread_and_stable() -> None:
    offsets = [first_offset(f"monitor-{index}", 30.0) for index in range(1000)]
    assert all(0 <= offset < 30.0 for offset in offsets)
    assert offsets == [first_offset(f"monitor-{index}", 30.0) for index in range(1000)]
    buckets = [0] * 10
    for offset in offsets:
        buckets[int(offset // 3)] += 1
    assert min(buckets) > 50  # no tenth of the interval is left empty or crowded
