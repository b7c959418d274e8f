"""Breaker state shared across processes through Redis (redis-py, imported lazily).

Layout (the seeds' recovery commands work by hand): one hash per breaker,
``circuit_breaker:<name>``, with

    state            CLOSED | OPEN | HALF_OPEN | FORCED_OPEN | DISABLED
    failureCount     the shared consecutive failure count (every process's failures)
    lastFailureTime  epoch ms of the last failure (Redis's clock)
    openedAt         epoch ms the breaker went OPEN (the timeout counts from it)
    version          bumped by every scripted transition (orders announcements)

``HSET circuit_breaker:rpc_pool state CLOSED failureCount 0`` or ``DEL
circuit_breaker:rpc_pool`` closes the breaker everywhere within ``poll_interval_s``; a hand
``HSET ... state OPEN`` opens it, its timeout counting from when a process first reads it.

Semantics: every decision is taken locally first and at once (a call never waits for
Redis); the sync then writes it with a Lua script and adopts what the script returns.
Failures while CLOSED (consecutive counting) add to the shared ``failureCount``, batched
by a worker thread, so N processes together open the breaker after ``failure_threshold``
failures; a success that follows failures resets it (one round trip per failure-to-success
edge; plain successes cost nothing). With a sliding window only transitions are shared:
each process keeps its own window. Half-open trials are admitted per process
(``permitted_calls_in_half_open`` in each); their outcome closes or re-opens the breaker
for all. Automatic transitions are compare-and-set on the expected state; an operator's
action (``force_open``, ``disable``, ``reset``, ``open``) always wins, and an automatic
transition never leaves FORCED_OPEN or DISABLED.

Every scripted change is PUBLISHed on ``channel``; a subscriber thread takes it up in the
other processes (milliseconds). Hand edits publish nothing, so the worker also re-reads
every breaker each ``poll_interval_s``.

When Redis cannot be reached, breakers keep working on local state; failures of that time
are not shared, transitions are remembered. On reconnect each breaker re-syncs: one that
changed state during the outage (or whose key is gone, as after a Redis restart) writes
its local state, unless an operator's FORCED_OPEN or DISABLED is there; the others take
up the shared state.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
import uuid
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from ._breaker import CircuitBreaker
from ._lua import FAILURE, READ, RECOVERED, TRANSITION
from ._state import BreakerState

if TYPE_CHECKING:
    import redis

__all__ = ["RedisBreakerSync", "SharedBreakerState"]

logger = logging.getLogger("tradewarden.guard.breaker.redis")
_FAILURE, _RECOVERED, _TRANSITION, _POLL, _STOP = (
    "failure",
    "recovered",
    "transition",
    "poll",
    "stop",
)


@dataclass(frozen=True, slots=True)
class SharedBreakerState:
    """One breaker's hash as a script returned it (times in epoch seconds)."""

    state: BreakerState
    failure_count: int
    last_failure_time: float | None
    opened_at: float | None
    version: int
    remaining_s: float | None
    exists: bool

    @classmethod
    def parse(cls, raw: list[Any]) -> SharedBreakerState | None:
        """Return the snapshot, or None if the stored state is not one we know."""
        state, count, last, opened, version, remaining, exists = raw
        try:
            parsed = BreakerState(str(state).upper())
        except ValueError:
            return None
        return cls(
            state=parsed,
            failure_count=max(0, int(count)),
            last_failure_time=None if int(last) < 0 else int(last) / 1000,
            opened_at=None if int(opened) < 0 else int(opened) / 1000,
            version=int(version),
            remaining_s=None if int(remaining) < 0 else int(remaining) / 1000,
            exists=bool(int(exists)),
        )


class _Entry:
    """What the sync knows about one attached breaker."""

    __slots__ = ("announced", "bad_state", "breaker", "dirty", "pending", "resync", "seen")

    def __init__(self, breaker: CircuitBreaker) -> None:
        self.breaker = breaker
        self.pending = 0  # queued events not yet written
        self.dirty = False  # changed state while Redis was unreachable
        # Not in step since attach or an outage: a missing key means "write ours", not DEL.
        self.resync = True
        self.seen: SharedBreakerState | None = None  # the last snapshot taken up
        self.bad_state = False  # the hash holds a state we do not know (logged once)
        self.announced = 0  # announcements received: a read that spans one may be stale


class RedisBreakerSync:
    """Share the state of attached breakers through one Redis server.

    ``RedisBreakerSync(url).start()``, then ``attach(breaker)`` for each breaker; ``close()``
    stops the two threads (a worker writing and polling, a pub/sub subscriber). Threads, not
    asyncio tasks, so sync and async bots alike never wait for Redis on a call.
    """

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        prefix: str = "circuit_breaker:",
        channel: str = "circuit_breaker:events",
        poll_interval_s: float = 1.0,
        reconnect_interval_s: float = 0.2,
        socket_timeout_s: float = 1.0,
    ) -> None:
        import redis as redis_py

        self._redis_py = redis_py
        self.prefix = prefix
        self.channel = channel
        self.poll_interval_s = poll_interval_s
        self.reconnect_interval_s = reconnect_interval_s
        self.origin = uuid.uuid4().hex
        self._client: redis.Redis = redis_py.Redis.from_url(
            url,
            decode_responses=True,
            socket_timeout=socket_timeout_s,
            socket_connect_timeout=socket_timeout_s,
        )
        self._scripts = {
            name: self._client.register_script(lua)
            for name, lua in (
                ("read", READ),
                ("failure", FAILURE),
                ("recovered", RECOVERED),
                ("transition", TRANSITION),
            )
        }
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue[tuple[str, str]] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._connected = False  # the last command reached Redis
        self._down = False  # a command failed and no reconnect has succeeded since
        self._threads: list[threading.Thread] = []

    # -- life cycle -------------------------------------------------------------------------

    def start(self) -> Self:
        """Start the worker and the subscriber; return at once (Redis may be down)."""
        if not self._threads:
            for target, name in ((self._work, "worker"), (self._listen, "subscriber")):
                thread = threading.Thread(target=target, name=f"breaker-redis-{name}", daemon=True)
                thread.start()
                self._threads.append(thread)
        return self

    def close(self) -> None:
        """Stop both threads and close the connections; attached breakers go on locally."""
        self._stop.set()
        self._queue.put((_STOP, ""))
        for thread in self._threads:
            thread.join()
        self._threads.clear()
        with self._lock:
            for entry in self._entries.values():
                entry.breaker._sync = None
        self._client.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def connected(self) -> bool:
        """Return whether the last command reached Redis."""
        return self._connected

    def key(self, name: str) -> str:
        """Return the hash key of breaker ``name``."""
        return f"{self.prefix}{name}"

    def attach(self, breaker: CircuitBreaker) -> None:
        """Share ``breaker``'s state from now on; it first takes up the shared state."""
        with self._lock:
            if breaker.name in self._entries:
                raise ValueError(f"a breaker named {breaker.name!r} is already attached")
            self._entries[breaker.name] = _Entry(breaker)
        breaker._sync = self
        self._queue.put((_POLL, breaker.name))

    def detach(self, breaker: CircuitBreaker) -> None:
        """Stop sharing ``breaker``'s state; it goes on with its local state."""
        with self._lock:
            entry = self._entries.get(breaker.name)
            if entry is None or entry.breaker is not breaker:
                return
            del self._entries[breaker.name]
        breaker._sync = None

    # -- operator access without a local breaker (the warden's API) -------------------------

    def names(self) -> list[str]:
        """Return the names of every breaker with a hash under ``prefix`` (SCAN, sorted)."""
        keys = self._client.scan_iter(match=f"{_glob_escape(self.prefix)}*", count=500)
        return sorted(key[len(self.prefix) :] for key in keys if self._client.type(key) == "hash")

    def read(self, name: str, timeout_s: float = 30.0) -> SharedBreakerState | None:
        """Return breaker ``name``'s shared state (None if unreadable); raise if Redis is down."""
        raw = self._scripts["read"](keys=[self.key(name)], args=[int(timeout_s * 1000)])
        return SharedBreakerState.parse(raw)

    def write(
        self, name: str, state: BreakerState, timeout_s: float = 30.0
    ) -> SharedBreakerState | None:
        """Set breaker ``name``'s shared state as an operator; every process takes it up."""
        raw = self._scripts["transition"](
            keys=[self.key(name)],
            args=["*", state.value, int(timeout_s * 1000), -1, self.channel, name, self.origin],
        )
        return SharedBreakerState.parse(raw)

    # -- BreakerSync: called under the breaker's lock, so only queue ----------------------------

    def on_failure(self, breaker: CircuitBreaker) -> None:
        """Queue a failure for the shared count."""
        self._enqueue(_FAILURE, breaker.name)

    def on_recovered(self, breaker: CircuitBreaker) -> None:
        """Queue a reset of the shared count."""
        self._enqueue(_RECOVERED, breaker.name)

    def on_transition(
        self, breaker: CircuitBreaker, old: BreakerState, new: BreakerState, *, operator: bool
    ) -> None:
        """Queue the transition; an operator's is marked to win over any shared state."""
        self._enqueue(_TRANSITION + ("*" if operator else old.value), breaker.name)

    def _enqueue(self, kind: str, name: str) -> None:
        with self._lock:
            entry = self._entries.get(name)
            if entry is None:
                return
            if self._down:
                # Nothing to write now; the re-sync at reconnect decides.
                entry.dirty = entry.dirty or kind.startswith(_TRANSITION)
                return
            entry.pending += 1
        self._queue.put((kind, name))

    # -- the worker thread ------------------------------------------------------------------

    def _work(self) -> None:
        next_poll = 0.0
        while not self._stop.is_set():
            if not self._connected:
                if not self._reconnect():
                    self._stop.wait(self.reconnect_interval_s)
                    continue
                next_poll = 0.0
            try:
                timeout = max(0.0, next_poll - time.monotonic())
                batch = [self._queue.get(timeout=timeout)] if timeout > 0 else []
            except queue.Empty:
                batch = []
            while True:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                self._process(batch)
                if time.monotonic() >= next_poll:
                    self._poll_all()
                    next_poll = time.monotonic() + self.poll_interval_s
            except (self._redis_py.RedisError, OSError) as exc:
                self._lost(exc, batch)
            except Exception:
                # A bug must not end the sync: breakers keep working, the next poll retries.
                logger.exception("circuit breaker sync: unexpected error; going on")
                with self._lock:
                    for entry in self._entries.values():
                        entry.pending = 0

    def _process(self, batch: list[tuple[str, str]]) -> None:
        failures: dict[str, int] = {}
        for kind, name in batch:
            if kind == _STOP:
                return
            if kind == _FAILURE:
                failures[name] = failures.get(name, 0) + 1
                continue
            self._flush_failures(failures)
            if kind == _POLL:
                self._resync(name)
            elif kind == _RECOVERED:
                self._run(name, "recovered", [self._timeout_ms(name)])
            else:
                self._push(name, expected=kind.removeprefix(_TRANSITION))
        self._flush_failures(failures)

    def _flush_failures(self, failures: dict[str, int]) -> None:
        for name, count in failures.items():
            entry = self._entries.get(name)
            if entry is None:
                continue
            config = entry.breaker.config
            self._run(
                name,
                "failure",
                [
                    count,
                    config.failure_threshold,
                    int(config.monitoring_period_s * 1000),
                    self._timeout_ms(name),
                    self.channel,
                    name,
                    self.origin,
                ],
                events=count,
            )
        failures.clear()

    def _push(self, name: str, *, expected: str, events: int = 1) -> None:
        """Write the breaker's current local state (its latest transition)."""
        entry = self._entries.get(name)
        if entry is None:
            return
        status = entry.breaker.status()
        seen = entry.seen
        if expected not in ("*", "!op") and seen is not None and seen.state is status.state:
            # The shared state already is ours (the failures' script opened it, or another
            # process got there first): writing again could undo an edit made since.
            with self._lock:
                entry.pending = max(0, entry.pending - events)
            return
        remaining = -1 if status.remaining_s is None else int(status.remaining_s * 1000)
        self._run(
            name,
            "transition",
            [
                expected,
                status.state.value,
                self._timeout_ms(name),
                remaining,
                self.channel,
                name,
                self.origin,
            ],
            events=events,
        )

    def _run(self, name: str, script: str, args: list[Any], *, events: int = 1) -> None:
        raw = self._scripts[script](keys=[self.key(name)], args=args)
        self._connected = True
        with self._lock:
            entry = self._entries.get(name)
            if entry is None:
                return
            entry.pending = max(0, entry.pending - events)
            if script != "recovered":
                entry.resync = entry.dirty = False  # the reply is the shared state
        self._take_up(name, SharedBreakerState.parse(raw))

    def _resync(self, name: str) -> None:
        """Read one breaker; after attach or an outage, write ours if it is newer."""
        entry = self._entries.get(name)
        if entry is None or entry.pending:
            return  # writes are queued: their replies bring the shared state
        since = entry.announced
        raw = self._scripts["read"](keys=[self.key(name)], args=[self._timeout_ms(name)])
        snapshot = SharedBreakerState.parse(raw)
        if entry.dirty or (
            entry.resync
            and snapshot is not None
            and not snapshot.exists
            and entry.breaker.state is not BreakerState.CLOSED
        ):
            self._push(name, expected="!op", events=0)
            return
        entry.resync = False
        self._take_up(name, snapshot, read_since=since)

    def _poll_all(self) -> None:
        names = [n for n, e in list(self._entries.items()) if not (e.resync or e.dirty)]
        if not names:
            return
        since = {name: self._entries[name].announced for name in names if name in self._entries}
        pipe = self._client.pipeline(transaction=False)
        for name in names:
            self._scripts["read"](keys=[self.key(name)], args=[self._timeout_ms(name)], client=pipe)
        for name, raw in zip(names, pipe.execute(), strict=True):
            self._take_up(name, SharedBreakerState.parse(raw), read_since=since.get(name))

    def _take_up(
        self, name: str, snapshot: SharedBreakerState | None, *, read_since: int | None = None
    ) -> None:
        """Note ``snapshot``; adopt it unless it is older than one seen, or writes are queued.

        ``read_since`` is the entry's announcement count when the read that gave ``snapshot``
        began. A missing hash has no version to compare: if an announcement came in during
        that read, the read may predate the announced write (or follow a deletion), so it is
        not taken up and the breaker is read again.
        """
        if snapshot is None:
            with self._lock:
                entry = self._entries.get(name)
                if entry is None or entry.bad_state:
                    return  # said once until the hash is readable again
                entry.bad_state = True
            logger.warning("circuit breaker %r: unknown state in %s", name, self.key(name))
            return
        with self._lock:
            entry = self._entries.get(name)
            if entry is None:
                return
            seen = entry.seen
            if (
                seen is not None
                and seen.exists
                and snapshot.exists
                and snapshot.version < seen.version
            ):
                return  # read before a newer announcement we already took up
            if read_since is not None and not snapshot.exists and entry.announced != read_since:
                self._queue.put((_POLL, name))
                return
            entry.seen = snapshot  # the newest shared state known, even if not adopted
            entry.bad_state = False
            if entry.pending:
                return  # local changes not written yet: their script's reply decides
        entry.breaker._adopt(
            snapshot.state,
            snapshot.failure_count,
            snapshot.last_failure_time,
            snapshot.remaining_s,
            superseded=lambda: self._has_pending(entry),  # a change since the check above
        )

    def _has_pending(self, entry: _Entry) -> bool:
        with self._lock:
            return entry.pending > 0

    def _timeout_ms(self, name: str) -> int:
        entry = self._entries.get(name)
        timeout_s = entry.breaker.config.timeout_s if entry is not None else 30.0
        return int(timeout_s * 1000)

    def _reconnect(self) -> bool:
        try:
            self._client.ping()
        except (self._redis_py.RedisError, OSError):
            return False
        logger.info(
            "circuit breaker sync: Redis reachable, syncing %d breakers", len(self._entries)
        )
        self._connected = True
        self._down = False
        for name in list(self._entries):
            self._queue.put((_POLL, name))
        return True

    def _lost(self, exc: BaseException, batch: list[tuple[str, str]]) -> None:
        if self._connected:
            logger.warning("circuit breaker sync: Redis unreachable (%s); going on locally", exc)
        self._connected = False
        self._down = True
        with self._lock:
            for kind, name in batch:
                entry = self._entries.get(name)
                if entry is not None and kind.startswith(_TRANSITION):
                    entry.dirty = True
            for entry in self._entries.values():
                entry.pending = 0
                entry.resync = True
        while True:  # events queued before the loss: the re-sync covers them
            try:
                kind, name = self._queue.get_nowait()
            except queue.Empty:
                break
            entry = self._entries.get(name)
            if entry is not None and kind.startswith(_TRANSITION):
                entry.dirty = True

    # -- the subscriber thread --------------------------------------------------------------

    def _listen(self) -> None:
        while not self._stop.is_set():
            pubsub = self._client.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
            try:
                pubsub.subscribe(self.channel)
                # Announcements missed while unsubscribed: read everything again.
                for name in list(self._entries):
                    self._queue.put((_POLL, name))
                while not self._stop.is_set():
                    message = pubsub.get_message(timeout=0.2)
                    if message is not None and message.get("type") == "message":
                        self._announced(message["data"])
            except (self._redis_py.RedisError, OSError):
                self._stop.wait(self.reconnect_interval_s)
            finally:
                pubsub.close()

    def _announced(self, data: str) -> None:
        try:
            payload = json.loads(data)
            name = str(payload["name"])
            if payload.get("origin") == self.origin or name not in self._entries:
                return
            raw = [
                payload["state"],
                payload["failureCount"],
                payload["lastFailureTime"],
                payload["openedAt"],
                payload["version"],
                payload["remainingMs"],
                1,
            ]
            snapshot = SharedBreakerState.parse(raw)  # in the try: its ints may be anything
        except (ValueError, KeyError, TypeError):
            logger.warning("circuit breaker sync: unreadable announcement %r", data)
            return
        with self._lock:
            entry = self._entries.get(name)
            if entry is None:
                return
            entry.announced += 1
            if entry.pending:
                return
            seen = entry.seen
            if (
                snapshot is not None
                and seen is not None
                and seen.exists
                and snapshot.version <= seen.version
            ):
                return  # not newer than what we hold
        self._take_up(name, snapshot)


def _glob_escape(text: str) -> str:
    """Escape ``text`` for a Redis MATCH pattern."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)
