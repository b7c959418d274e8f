"""The rule manager: groups evaluated on their interval and as soon as samples they read
arrive, alerts handed off, rule files reloaded all-or-nothing.

Event-driven evaluation: the store calls :meth:`RuleManager.notify` with the metric names
of each batch appended. A group whose rules read one of them is evaluated at once, unless
it was evaluated less than ``debounce_s`` ago; then once, at the end of that window. Only
the rules that read the names run (and those reading what they record), and of those,
when the store says which series came in (``subscribe(..., series=True)``), only the rules
whose selectors select one of them; so a 5 s probe's sample reaches its alert within the
debounce window instead of the next interval, evaluating its monitor's rule only. The
group's own appends (its records and ``ALERTS``) do not wake the group itself, the
``ALERTS`` series do not wake other groups, and a rule whose selectors name no metric
runs on its interval only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from tradewarden.clock import Clock, SystemClock
from tradewarden.rules._alerts import Alert, AlertState
from tradewarden.rules._expr import InstantQuery
from tradewarden.rules._files import GroupSpec, load_rule_files
from tradewarden.rules._group import Group, restore_for_state, sendable
from tradewarden.rules._rules import ALERTS, ALERTS_FOR_STATE, AlertingRule, EvalContext
from tradewarden.rules._sink import AlertSink, MemorySink
from tradewarden.series import STALE_NAN, Appender, Labels, Queryable

__all__ = ["RuleManager", "RuleManagerOptions"]

_log = logging.getLogger(__name__)
_ALERT_SERIES = frozenset({ALERTS, ALERTS_FOR_STATE})
# Label sets of fresh samples kept for one group's next evaluation; beyond, the names only.
_SERIES_MAX = 1024


@dataclass(frozen=True, slots=True)
class RuleManagerOptions:
    """Tuning, with Prometheus's defaults where it has one (except the for grace period:
    see ``RulesConfig.for_grace_period``)."""

    evaluation_interval_ms: int = 15_000
    debounce_s: float = 0.05
    resend_delay_ms: int = 60_000
    outage_tolerance_ms: int = 3_600_000
    for_grace_period_ms: int = 60_000
    external_labels: Mapping[str, str] = field(default_factory=dict)
    external_url: str = ""
    # How often generated groups (``RuleManager.generated``) are checked for changes.
    generated_refresh_s: float = 30.0


@dataclass(slots=True)
class _Runner:
    group: Group
    names: set[str] = field(default_factory=set)
    # The label sets of those names' fresh samples; None once one notification had none.
    series: set[Labels] | None = field(default_factory=set)
    task: asyncio.Task[None] | None = None
    last_run: float | None = None
    woken: bool = False
    _waiter: asyncio.Future[None] | None = None

    def wake(self) -> None:
        self.woken = True
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def sleep_until(self, deadline: float) -> None:
        """Return at ``deadline`` (loop time) or when woken.

        A plain future and a timer rather than ``wait_for(event.wait())``: on Python 3.11
        a cancel that meets the event's wake-up can be lost there, and the task never ends.
        """
        loop = asyncio.get_running_loop()
        timeout = deadline - loop.time()
        if self.woken or timeout <= 0:
            return
        waiter = self._waiter = loop.create_future()
        timer = loop.call_later(timeout, _release, waiter)
        try:
            await waiter
        finally:
            timer.cancel()
            self._waiter = None


def _unsent_resolution(alert: Alert) -> bool:
    """Whether ``alert`` resolved after it was last handed off."""
    return (
        alert.state is AlertState.INACTIVE
        and alert.resolved_at_ms is not None
        and (alert.last_sent_ms is None or alert.resolved_at_ms > alert.last_sent_ms)
    )


def _release(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class RuleManager:
    """Owns the rule groups; ``start()`` in a running loop, ``stop()`` at the end."""

    def __init__(
        self,
        *,
        query: InstantQuery,
        storage: Queryable,
        appender: Appender,
        clock: Clock | None = None,
        sink: AlertSink | None = None,
        options: RuleManagerOptions | None = None,
    ) -> None:
        self._query = query
        self._storage = storage
        self._appender = appender
        self._clock = clock or SystemClock()
        self.sink: AlertSink = sink if sink is not None else MemorySink()
        self.options = options or RuleManagerOptions()
        self._groups: dict[tuple[str, str], Group] = {}
        self._runners: dict[tuple[str, str], _Runner] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._appending: Group | None = None
        self._started = False
        self._restored_once = False
        self._lock = asyncio.Lock()
        # Groups made by code (the monitors' default rules), added to the files' groups and
        # re-read every ``generated_refresh_s``; the same list back means unchanged.
        self.generated: Callable[[], Sequence[GroupSpec]] | None = None
        self._file_specs: list[GroupSpec] = []
        self._generated_specs: Sequence[GroupSpec] = ()
        self._refresher: asyncio.Task[None] | None = None
        # Hand-offs of removed rules' alerts still running (kept so they are not collected).
        self._sends: set[asyncio.Task[None]] = set()
        self._refresh_soon = False  # a refresh of the generated groups is scheduled

    # -- loading -------------------------------------------------------------------------

    def groups(self) -> list[Group]:
        """The groups in force, in file then group order."""
        return list(self._groups.values())

    def load_files(self, paths: Iterable[Path], extra: Sequence[GroupSpec] = ()) -> None:
        """Load rule files (plus generated groups); on any problem raise
        :class:`RuleLoadError` and keep the rules in force."""
        self.apply(load_rule_files(paths) + list(extra))

    def apply(self, specs: Sequence[GroupSpec]) -> None:
        """Replace the groups with ``specs`` (already validated) and the generated ones,
        carrying state over."""
        self._file_specs = list(specs)
        if self.generated is not None:
            self._generated_specs = self.generated()
        new: dict[tuple[str, str], Group] = {}
        gone: list[AlertingRule] = []
        for spec in [*self._file_specs, *self._generated_specs]:
            interval = spec.interval_ms or self.options.evaluation_interval_ms
            group = Group(spec, interval)
            for rule in group.alerting_rules():
                rule.restored = self._restored_once or not self._started
            old = self._groups.get(group.key)
            if old is not None:
                gone += group.copy_state(old)
            new[group.key] = group
        removed = [g for key, g in self._groups.items() if key not in new]
        for group in removed:
            group.retired = True
            gone += group.alerting_rules()
        self._groups = new
        now_ms = self._now_ms()
        self._resolve_gone(gone, now_ms)
        with self._batch():
            for group in removed:
                # After the group's last samples, or the store would drop the marker.
                t_ms = max(now_ms, (group.last_eval_ms or 0) + 1)
                for labels in group.stale_series():
                    self._appender.append(labels, t_ms, STALE_NAN)
        if self._started:
            self._sync_runners()

    def _resolve_gone(self, rules: Iterable[AlertingRule], t_ms: int) -> None:
        """Hand off the firing alerts of rules that were removed as resolved now.

        Prometheus lets Alertmanager time them out at their ``endsAt`` (minutes later);
        here the rule's cause is gone with the rule (a monitor deleted over the API, a
        rule taken out of its file), so its notification says so at once. An alert that
        resolved in an evaluation the removal cut short (a retired group hands nothing
        off) goes with them.
        """
        resolved = []
        for rule in rules:
            for alert in rule.alerts():
                if alert.state is AlertState.FIRING:
                    alert.state, alert.resolved_at_ms = AlertState.INACTIVE, t_ms
                elif not _unsent_resolution(alert):
                    continue  # pending (never announced), or its resolution went out
                alert.last_sent_ms = t_ms
                resolved.append(replace(alert))
        if not resolved or not self._started or self._loop is None:
            return  # before start nothing was handed off
        task = self._loop.create_task(self._send(resolved, "removed rules"))
        self._sends.add(task)
        task.add_done_callback(self._sends.discard)

    async def _send(self, batch: Sequence[Alert], what: str) -> None:
        try:
            await self.sink.send(batch)
        except Exception:  # noqa: BLE001 - the receiver's failure is its own
            _log.exception("alert sink failed for %s", what)

    def refresh_generated(self) -> bool:
        """Apply the generated groups again if they changed; return whether they did."""
        if self.generated is None:
            return False
        fresh = self.generated()
        if fresh is self._generated_specs:
            return False
        self.apply(self._file_specs)
        return True

    def generated_changed(self) -> None:
        """The generated groups' inputs changed (a monitor was created, changed or
        removed): refresh them on the loop's next turn, once for a burst of changes, so a
        new monitor's first DOWN check finds its rule (``generated_refresh_s`` is the
        backstop for changes nobody announces)."""
        loop = self._loop
        if loop is None or not self._started or self._refresh_soon:
            return
        self._refresh_soon = True
        loop.call_soon(self._refresh_announced)

    def _refresh_announced(self) -> None:
        self._refresh_soon = False
        if not self._started:
            return
        try:
            self.refresh_generated()
        except Exception:  # noqa: BLE001 - a bad generated rule must not break the caller
            _log.exception("generated rules could not be refreshed")

    async def _refresh_loop(self, interval_s: float) -> None:
        while True:
            await asyncio.sleep(interval_s)
            try:
                self.refresh_generated()
            except Exception:  # noqa: BLE001 - a bad generated rule must not end the loop
                _log.exception("generated rules could not be refreshed")

    # -- running -------------------------------------------------------------------------

    async def start(self) -> None:
        """Evaluate every group once, restore ``for`` clocks, then run the schedules."""
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        for group in self._groups.values():
            for rule in group.alerting_rules():
                rule.restored = False
        self._started = True
        t_ms = self._now_ms()
        for group in list(self._groups.values()):
            await self._evaluate(group, t_ms, None, restore=True)
        self._restored_once = True
        for group in self._groups.values():  # loaded by a reload while this ran
            for rule in group.alerting_rules():
                rule.restored = True
        self._sync_runners()
        if self.generated is not None and self.options.generated_refresh_s > 0:
            self._refresher = asyncio.create_task(
                self._refresh_loop(self.options.generated_refresh_s), name="rules:generated"
            )

    async def stop(self) -> None:
        """Stop the schedules (the store keeps the series: its snapshot has them)."""
        self._started = False
        if self._refresher is not None:
            self._refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refresher
            self._refresher = None
        for send in list(self._sends):  # removed rules' resolutions still on their way
            with contextlib.suppress(Exception):
                await send
        runners = list(self._runners.values())
        self._runners.clear()
        for runner in runners:
            if runner.task is not None:
                runner.task.cancel()
        for runner in runners:
            if runner.task is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await runner.task

    def notify(self, names: frozenset[str], series: frozenset[Labels] | None = None) -> None:
        """The store's subscriber: wake the groups that read ``names`` (any thread);
        ``series``, when given, are the label sets those samples came in."""
        loop = self._loop
        if loop is None or not self._started:
            return
        if threading.get_ident() != self._loop_thread:
            loop.call_soon_threadsafe(self._wake, names, None, series)
        else:
            self._wake(names, self._appending, series)

    def _wake(
        self,
        names: frozenset[str],
        source: Group | None,
        series: frozenset[Labels] | None = None,
    ) -> None:
        if source is not None:
            # ALERTS written by one group do not wake another (two groups that read
            # ALERTS and fire would wake each other for as long as they fire); what a
            # recording rule writes does.
            names = names - _ALERT_SERIES
            if not names:
                return
        for key, runner in self._runners.items():
            group = runner.group
            if group is source or key not in self._groups:
                continue
            if group.reads(names):
                runner.names |= names
                if runner.series is not None:
                    if series is None or len(runner.series) + len(series) > _SERIES_MAX:
                        runner.series = None  # not known: every rule reading the names
                    else:
                        runner.series |= series
                runner.wake()

    def _sync_runners(self) -> None:
        for key in list(self._runners):
            runner = self._runners[key]
            if key not in self._groups:
                if runner.task is not None:
                    runner.task.cancel()
                del self._runners[key]
            else:
                runner.group = self._groups[key]
        for key, group in self._groups.items():
            if key not in self._runners:
                runner = _Runner(group)
                runner.task = asyncio.create_task(self._run(runner), name=f"rules:{group.name}")
                self._runners[key] = runner

    async def _run(self, runner: _Runner) -> None:
        loop = asyncio.get_running_loop()
        next_due = loop.time() + runner.group.interval_ms / 1000
        while True:
            await runner.sleep_until(next_due)
            due = loop.time() >= next_due
            if not due and runner.last_run is not None:
                # At most one event-driven evaluation per debounce window.
                earliest = runner.last_run + self.options.debounce_s
                if loop.time() < earliest:
                    await asyncio.sleep(earliest - loop.time())
            names = frozenset(runner.names)
            series = None if runner.series is None else frozenset(runner.series)
            runner.names.clear()
            runner.series = set()
            runner.woken = False
            runner.last_run = loop.time()
            try:
                await self._evaluate(
                    runner.group,
                    self._now_ms(),
                    None if due else names,
                    None if due else series,
                )
            except Exception:  # noqa: BLE001 - a bug in one group must not end its schedule
                _log.exception("rule group %s failed", runner.group.name)
            if due:
                interval = runner.group.interval_ms / 1000
                while next_due <= loop.time():
                    next_due += interval  # missed ticks are skipped, on the same phase

    async def evaluate_now(self, t_ms: int | None = None) -> None:
        """Evaluate every group once (tests, the API's reload)."""
        for group in list(self._groups.values()):
            await self._evaluate(group, self._now_ms() if t_ms is None else t_ms, None)

    async def _evaluate(
        self,
        group: Group,
        t_ms: int,
        only: frozenset[str] | None,
        series: frozenset[Labels] | None = None,
        *,
        restore: bool = False,
    ) -> None:
        async with self._lock:
            if self._groups.get(group.key) is not group:
                return  # replaced by a reload meanwhile
            ctx = EvalContext(
                self._query,
                self.options.external_labels,
                self.options.external_url,
                group.spec.limit,
                group.spec.labels,
            )

            def write(samples: Sequence[tuple[Labels, float]]) -> None:
                # The group's own samples (records, ALERTS) do not wake the group itself;
                # in one batch, the store tells the other groups once.
                self._appending = group
                try:
                    with self._batch():
                        for labels, value in samples:
                            self._appender.append(labels, t_ms, value)
                finally:
                    self._appending = None

            evaluated = await group.evaluate(t_ms, ctx, write, only=only, series=series)
            if restore:
                for rule in group.alerting_rules():
                    restore_for_state(
                        rule,
                        self._storage,
                        t_ms,
                        outage_tolerance_ms=self.options.outage_tolerance_ms,
                        grace_period_ms=self.options.for_grace_period_ms,
                    )
            batch = sendable(evaluated, t_ms, self.options.resend_delay_ms, group.interval_ms)
        if batch:
            try:
                await self.sink.send(batch)
            except Exception:  # noqa: BLE001 - the receiver's failure is its own
                _log.exception("alert sink failed for group %s", group.name)

    def _batch(self) -> contextlib.AbstractContextManager[object]:
        batch = getattr(self._appender, "batch", None)
        return batch() if callable(batch) else contextlib.nullcontext()

    def _now_ms(self) -> int:
        return int(self._clock.now() * 1000)

    # -- reading -------------------------------------------------------------------------

    def alerts(self) -> list[tuple[Alert, AlertingRule, Group]]:
        """Every tracked alert with its rule and group."""
        return [
            (alert, rule, group)
            for group in self._groups.values()
            for rule in group.alerting_rules()
            for alert in rule.alerts()
        ]
