"""The scheduler: runs every monitor on its interval, decides states, records flips.

One dispatcher task keeps a heap of due times. A monitor's next run is its previous *due*
time plus its interval, never "finished + interval", so no drift accumulates; runs missed
while the process was busy are skipped, not bunched. First runs are spread over one
interval by a hash of the name, so 10,000 monitors added at once do not fire together.
Each run is its own task under a global concurrency limit, with the monitor's timeout
enforced by cancellation: one slow or hung target never delays another.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import heapq
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

import aiohttp
import httpx

from tradewarden.clock import Clock
from tradewarden.probes._heartbeats import HeartbeatBoard
from tradewarden.probes._model import MonitorState, Probe, ProbeContext, ProbeResult
from tradewarden.probes._policy import decide
from tradewarden.probes._ports import Flip, FlipRecorder, ResultSink
from tradewarden.probes._spec import MonitorSpec
from tradewarden.telemetry import redact_text

__all__ = [
    "CheckRecord",
    "MonitorStatus",
    "ReloadSummary",
    "Scheduler",
    "close_probe",
    "first_offset",
    "next_due",
]

logger = logging.getLogger("tradewarden.probes")
FlipListener = Callable[[Flip], Awaitable[None] | None]


@dataclass(frozen=True, slots=True)
class CheckRecord:
    """One finished check, as kept in a monitor's recent-results ring."""

    at: float
    success: bool
    degraded: bool
    duration_s: float
    error: str | None
    schedule_delay_s: float
    state: MonitorState


@dataclass(eq=False)
class MonitorStatus:
    """The live state of one monitor."""

    spec: MonitorSpec
    probe: Probe
    state: MonitorState = "PENDING"
    history: deque[CheckRecord] = field(default_factory=lambda: deque(maxlen=100))
    last_result: ProbeResult | None = None
    running: bool = False
    # Paused by an operator (API, CLI): latched across reloads and restarts (a stored
    # PAUSED flip) until resumed, whatever the spec says.
    held: bool = False
    generation: int = 0
    overlaps_skipped: int = 0
    # Serialises decisions: a run-now and a scheduled run finishing together must not
    # both record the same flip.
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def paused(self) -> bool:
        """Return whether the monitor is not being checked (by its spec or an operator)."""
        return self.held or self.spec.paused

    def outcomes(self) -> list[bool]:
        """Return the successes of the recent checks, oldest first."""
        return [record.success for record in self.history]


@dataclass(frozen=True)
class ReloadSummary:
    """What a new set of monitors changed."""

    added: tuple[str, ...]
    removed: tuple[str, ...]
    changed: tuple[str, ...]


class Scheduler:
    """Run monitors; see the module docstring for the timing rules."""

    def __init__(
        self,
        *,
        clock: Clock,
        flips: FlipRecorder,
        sink: ResultSink,
        http: httpx.AsyncClient,
        web: aiohttp.ClientSession | None = None,
        max_concurrency: int = 256,
        history_size: int = 100,
        tick_s: float = 0.01,
        heartbeats: HeartbeatBoard | None = None,
    ) -> None:
        self._clock = clock
        self._heartbeats = heartbeats
        self._flips = flips
        self._sink = sink
        self._http = http
        self._web = web
        self._limit = asyncio.Semaphore(max_concurrency)
        self._tick_s = tick_s
        self._history_size = history_size
        self._monitors: dict[str, MonitorStatus] = {}
        self._heap: list[tuple[float, int, str, int]] = []
        self._sequence = 0
        self._wake = asyncio.Event()
        self._dispatcher: asyncio.Task[None] | None = None
        self._runs: set[asyncio.Task[None]] = set()
        self._listeners: list[FlipListener] = []
        self._change_listeners: list[Callable[[], None]] = []
        self._restored: dict[str, MonitorState] = {}
        self.schedule_delays: deque[float] = deque(maxlen=10_000)

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self, specs: Iterable[MonitorSpec]) -> None:
        """Restore the last known states, load ``specs`` and start dispatching."""
        self._restored = await self._flips.latest_states()
        self.apply(specs)
        self._dispatcher = asyncio.create_task(self._dispatch(), name="probe-dispatcher")

    async def stop(self) -> None:
        """Stop dispatching and cancel the checks in flight."""
        if self._dispatcher is not None:
            self._dispatcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._dispatcher
            self._dispatcher = None
        for task in list(self._runs):
            task.cancel()
        await asyncio.gather(*self._runs, return_exceptions=True)
        for status in self._monitors.values():
            await close_probe(status.probe)

    def on_flip(self, listener: FlipListener) -> None:
        """Call ``listener`` after every stored flip."""
        self._listeners.append(listener)

    def on_change(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` after the set of monitors or a monitor's spec changed (what
        the monitors' generated rules are made from); once per ``apply``."""
        self._change_listeners.append(listener)

    def _changed(self) -> None:
        for listener in list(self._change_listeners):
            try:
                listener()
            except Exception:
                logger.exception("a monitor change listener failed")

    # -- the set of monitors --------------------------------------------------------------

    def apply(self, specs: Iterable[MonitorSpec]) -> ReloadSummary:
        """Replace the monitors with ``specs``; unchanged monitors keep their state.

        Every new probe is built before anything changes: when one cannot be built, this
        raises and the running monitors stay as they were.
        """
        wanted = {spec.name: spec for spec in specs}
        built = self._build([spec for spec in wanted.values() if self._differs(spec)])
        removed = tuple(sorted(set(self._monitors) - set(wanted)))
        for name in removed:
            self._remove(name)
        added: list[str] = []
        changed: list[str] = []
        for spec, probe in built:
            (added if self._install(spec, probe) else changed).append(spec.name)
        self._wake.set()
        if added or removed or changed:
            self._changed()
        return ReloadSummary(tuple(added), removed, tuple(changed))

    def put(self, spec: MonitorSpec, probe: Probe | None = None) -> bool:
        """Add ``spec``, or replace the monitor of its name; return False when unchanged.

        ``probe`` is ``spec.build()`` made beforehand, so that a caller can fail before it
        commits anything; without it the probe is built here.
        """
        if not self._differs(spec):
            if probe is not None:
                self._retire(probe)
            return False
        self._install(spec, probe if probe is not None else spec.build())
        self._wake.set()
        self._changed()
        return True

    def remove(self, name: str) -> bool:
        """Stop and forget the monitor ``name`` (its series too); return whether it existed."""
        if not self._remove(name):
            return False
        self._changed()
        return True

    def _remove(self, name: str) -> bool:
        status = self._monitors.pop(name, None)
        if status is None:
            return False
        self._retire(status.probe)
        self._sink.forget(name)
        # Added again later, it starts PENDING, not in the state it had at start-up.
        self._restored.pop(name, None)
        return True

    def _differs(self, spec: MonitorSpec) -> bool:
        current = self._monitors.get(spec.name)
        return current is None or current.spec != spec

    def _build(self, specs: list[MonitorSpec]) -> list[tuple[MonitorSpec, Probe]]:
        built: list[tuple[MonitorSpec, Probe]] = []
        try:
            for spec in specs:
                built.append((spec, spec.build()))  # noqa: PERF401 - keeps what was built
        except BaseException:
            for _, probe in built:
                self._retire(probe)
            raise
        return built

    def _install(self, spec: MonitorSpec, probe: Probe) -> bool:
        """Run ``probe`` for ``spec`` in place of any monitor of that name; True when new."""
        name = spec.name
        current = self._monitors.get(name)
        status = MonitorStatus(spec=spec, probe=probe, history=deque(maxlen=self._history_size))
        if current is None:
            status.state = self._restored.get(name, "PENDING")
            status.held = status.state == "PAUSED" and not spec.paused
        else:
            self._retire(current.probe)
            status.state = current.state
            status.history = current.history
            status.held = current.held
            status.generation = current.generation + 1
        self._monitors[name] = status
        if not status.paused:
            self._push(self._clock.monotonic() + first_offset(name, spec.interval_s), status)
        return current is None

    def _retire(self, probe: Probe) -> None:
        """Close a replaced probe's resources once its run in flight (if any) is over."""
        task = asyncio.get_running_loop().create_task(close_probe(probe))
        self._runs.add(task)
        task.add_done_callback(self._runs.discard)

    def get(self, name: str) -> MonitorStatus | None:
        """Return the live status of ``name``."""
        return self._monitors.get(name)

    def all(self) -> list[MonitorStatus]:
        """Return every monitor, by name."""
        return [self._monitors[name] for name in sorted(self._monitors)]

    # -- operator actions ----------------------------------------------------------------

    async def run_now(self, name: str) -> CheckRecord:
        """Check ``name`` at once (outside its schedule) and return the record."""
        status = self._require(name)
        now = self._clock.monotonic()
        await self._execute(status, now)
        return status.history[-1]

    async def pause(self, name: str, reason: str) -> MonitorStatus:
        """Stop checking ``name``; its state becomes PAUSED (recorded)."""
        status = self._require(name)
        status.held = True
        status.generation += 1
        async with status.lock:
            await self._transition(status, "PAUSED", reason or "paused")
        return status

    async def resume(self, name: str, reason: str) -> MonitorStatus:
        """Check ``name`` again from now; its state is PENDING until the first result."""
        status = self._require(name)
        status.held = False
        if status.spec.paused:  # the operator overrides the spec until the next change
            status.spec = status.spec.model_copy(update={"paused": False})
        status.generation += 1
        async with status.lock:
            await self._transition(status, "PENDING", reason or "resumed")
        self._push(self._clock.monotonic(), status)
        self._wake.set()
        return status

    def _require(self, name: str) -> MonitorStatus:
        status = self._monitors.get(name)
        if status is None:
            raise KeyError(name)
        return status

    # -- dispatching ---------------------------------------------------------------------

    def _push(self, due: float, status: MonitorStatus) -> None:
        self._sequence += 1
        heapq.heappush(self._heap, (due, self._sequence, status.spec.name, status.generation))

    async def _dispatch(self) -> None:
        while True:
            self._wake.clear()
            now = self._clock.monotonic()
            while self._heap and self._heap[0][0] <= now:
                due, _, name, generation = heapq.heappop(self._heap)
                status = self._monitors.get(name)
                if status is None or status.generation != generation or status.paused:
                    continue  # removed, replaced or paused since it was scheduled
                self._push(next_due(due, status.spec.interval_s, now), status)
                if status.running:
                    status.overlaps_skipped += 1
                    continue
                status.running = True
                task = asyncio.create_task(self._execute(status, due))
                self._runs.add(task)
                task.add_done_callback(self._runs.discard)
            # Wake at most once a tick: at 10,000 monitors every 30 s a wake-up per due
            # time is 333 timer round trips a second; a 10 ms tick takes several at once,
            # for at most 10 ms of drift.
            timeout = max(self._heap[0][0] - now, self._tick_s) if self._heap else None
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow the
            # cancellation that stop() sends when the event is set at the same moment.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._wake.wait()

    async def _execute(self, status: MonitorStatus, due: float) -> None:
        spec = status.spec
        try:
            async with self._limit:
                delay = max(0.0, self._clock.monotonic() - due)
                self.schedule_delays.append(delay)
                result = await self._check(status.probe, spec)
                await self._record(status, result, delay)
        finally:
            status.running = False

    async def _check(self, probe: Probe, spec: MonitorSpec) -> ProbeResult:
        context = ProbeContext(
            clock=self._clock,
            timeout_s=spec.timeout_s,
            http=self._http,
            heartbeats=self._heartbeats,
            web=self._web,
        )
        started = time.perf_counter()
        try:
            # A backstop a little past the probe's own deadline: a probe that keeps to
            # ``ctx.timeout_s`` names what stalled (connect, the response, the body), and
            # one that does not is still cut off.
            async with asyncio.timeout(spec.timeout_s + min(1.0, 0.1 * spec.timeout_s)):
                return await probe.run(context)
        except TimeoutError:
            return ProbeResult.failure(
                f"timed out after {spec.timeout_s:g} s", time.perf_counter() - started
            )
        except Exception as exc:  # noqa: BLE001 - a broken probe is a DOWN result, not a crash
            message = redact_text(f"probe error: {type(exc).__name__}: {exc}")
            return ProbeResult.failure(message, time.perf_counter() - started)

    async def _record(self, status: MonitorStatus, result: ProbeResult, delay: float) -> None:
        async with status.lock:
            await self._record_locked(status, result, delay)

    async def _record_locked(
        self, status: MonitorStatus, result: ProbeResult, delay: float
    ) -> None:
        spec = status.spec
        outcomes = [*status.outcomes(), result.success]
        decision = decide(status.state, outcomes, result, spec.failure)
        if status.paused or self._monitors.get(spec.name) is not status:
            return  # paused, replaced or removed while the check ran: it no longer counts
        if decision.state != status.state:
            stored = await self._transition(status, decision.state, decision.reason)
            if not stored:
                return  # not durable, so not announced: the next result decides again
        now = self._clock.now()
        status.last_result = result
        status.history.append(
            CheckRecord(
                at=now,
                success=result.success,
                degraded=result.degraded,
                duration_s=result.duration_s,
                error=result.error,
                schedule_delay_s=delay,
                state=status.state,
            )
        )
        self._sink.publish(spec, result, status.state, now)

    async def _transition(self, status: MonitorStatus, new: MonitorState, reason: str) -> bool:
        """Store the flip, then apply and announce it; return False when it was not stored."""
        if new == status.state:
            return True
        flip = Flip(status.spec.name, status.state, new, reason, self._clock.now())
        try:
            await self._flips.record(flip)
        except Exception:  # the store is down: keep the old state, retry on the next result
            logger.exception("could not store the flip of %s to %s", flip.monitor, flip.new)
            return False
        status.state = new
        logger.info("monitor %s: %s -> %s (%s)", flip.monitor, flip.old, flip.new, reason)
        for listener in self._listeners:
            try:
                outcome = listener(flip)
                if outcome is not None:
                    await outcome
            except Exception:
                logger.exception("a flip listener failed")
        return True


async def close_probe(probe: Probe) -> None:
    """Close what a probe holds (its own HTTP client, ...), if it holds anything."""
    aclose = getattr(probe, "aclose", None)
    if aclose is None:
        return
    try:
        await aclose()
    except Exception:
        logger.exception("closing a probe failed")


def next_due(due: float, interval_s: float, now: float) -> float:
    """Return the next due time after ``due``: on the same phase, never in the past.

    Runs missed while the process was busy are skipped, not bunched up.
    """
    following = due + interval_s
    if following <= now:
        following += math.ceil((now - following) / interval_s) * interval_s
        if following <= now:  # rounding: land strictly after now
            following += interval_s
    return following


def first_offset(name: str, interval_s: float) -> float:
    """Spread first runs over one interval, the same offset for a name on every start."""
    fraction = int.from_bytes(hashlib.blake2b(name.encode(), digest_size=4).digest()) / 2**32
    return fraction * interval_s
