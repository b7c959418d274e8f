"""Maintenance windows, pure: matchers muting alerts once (``starts_at``..``ends_at``) or
on a schedule (a 5-field ``cron`` evaluated in the window's zone, each start lasting
``duration``).

A window mutes exactly like a silence while it is active. The cron is matched against
the zone's wall clock, so ``30 2 * * *`` in ``Europe/Berlin`` starts at 02:30 Berlin time
in summer and in winter. Two DST rules (as Vixie cron does): a start in the hour the
clocks skip happens at the jump (``02:30`` on the spring-forward night is ``03:00``); a
start in the hour that repeats happens once, at its first occurrence. Occurrences that
overlap or touch run together: the window ends when the last of them ends. Times are
integer milliseconds.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter  # type: ignore[import-untyped]  # ships no type information

from tradewarden.alerting._matchers import Matchers, matches
from tradewarden.series import Labels

__all__ = [
    "MAINTENANCE_PREFIX",
    "MaintenanceError",
    "MaintenanceSchedule",
    "MaintenanceWindow",
    "check_cron",
    "load_zone",
]

MAINTENANCE_PREFIX = "maintenance:"
# More occurrences than this running together (``* * * * *`` lasting an hour) is a
# window with no end we report (each step is a cron iteration); it still mutes.
_MAX_CHAINED = 200
# Longer than any repeated wall-clock hour in use (1 hour; Lord Howe 30 minutes, Troll 2).
_FOLD = timedelta(hours=3)


class MaintenanceError(ValueError):
    """A window that cannot be: the message names the field."""


def load_zone(name: str) -> ZoneInfo:
    """Return the IANA zone ``name``; MaintenanceError naming ``timezone`` when unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise MaintenanceError(f"timezone: unknown time zone {name!r}") from None


def check_cron(expression: str) -> str:
    """Return a valid 5-field cron expression; MaintenanceError naming ``cron`` otherwise."""
    if len(expression.split()) != 5 or not croniter.is_valid(expression):
        raise MaintenanceError(
            f"cron: {expression!r} is not a valid 5-field cron expression"
            " (minute hour day-of-month month day-of-week)"
        )
    try:
        croniter(expression, datetime(2000, 1, 1)).get_next(datetime)  # noqa: DTZ001 - wall clock
    except (ValueError, KeyError, OverflowError):
        # croniter's "no matching date" (``0 0 30 2 *``) is a ValueError subclass.
        raise MaintenanceError(f"cron: {expression!r} never matches a date") from None
    return expression


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def _wall(ms: int, zone: ZoneInfo) -> datetime:
    """The zone's wall clock at ``ms``, naive."""
    return datetime.fromtimestamp(ms / 1000, UTC).astimezone(zone).replace(tzinfo=None)


def _instant(wall: datetime, zone: ZoneInfo) -> int:
    """Return when the zone's wall clock (naive ``wall``) reads ``wall``, in ms.

    A repeated wall time gives its first occurrence; a skipped one gives the jump.
    """
    first = wall.replace(tzinfo=zone, fold=0)
    if first.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == wall:
        return _ms(first)
    # In the gap: fold=1 reads it with the offset after the jump (an instant before it),
    # fold=0 with the offset before (after it). The jump is the first second between them
    # whose offset is the new one.
    low = int(wall.replace(tzinfo=zone, fold=1).timestamp())
    high = int(first.timestamp())
    after = first.replace(fold=1).utcoffset()
    while low + 1 < high:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, zone).utcoffset() == after:
            high = middle
        else:
            low = middle
    return high * 1000


@dataclass(frozen=True, slots=True)
class MaintenanceWindow:
    """A named window: one-off (``starts_at_ms``/``ends_at_ms``) or recurring (``cron``)."""

    name: str
    matchers: Matchers
    comment: str = ""
    starts_at_ms: int | None = None
    ends_at_ms: int | None = None
    cron: str | None = None
    duration_ms: int = 0
    timezone: str = "UTC"
    _zone: ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.matchers:
            raise MaintenanceError("matchers: at least one matcher is required")
        one_off = self.starts_at_ms is not None or self.ends_at_ms is not None
        if one_off == (self.cron is not None):
            raise MaintenanceError(
                "starts_at: give either starts_at and ends_at (once) or cron and duration"
            )
        if one_off:
            if self.starts_at_ms is None or self.ends_at_ms is None:
                missing = "starts_at" if self.starts_at_ms is None else "ends_at"
                raise MaintenanceError(f"{missing}: a one-off window needs starts_at and ends_at")
            if self.ends_at_ms <= self.starts_at_ms:
                raise MaintenanceError("ends_at: the window must end after it starts")
        else:
            check_cron(str(self.cron))
            if self.duration_ms <= 0:
                raise MaintenanceError("duration: must be greater than 0")
        object.__setattr__(self, "_zone", load_zone(self.timezone))

    @property
    def silence_id(self) -> str:
        """The id muted alerts show in ``silencedBy``: ``maintenance:<name>``."""
        return MAINTENANCE_PREFIX + self.name

    @property
    def recurring(self) -> bool:
        """Whether the window follows a cron schedule."""
        return self.cron is not None

    # --- the schedule ---------------------------------------------------------------
    # The wall clock maps to instants without ever going back (a repeated time: its first
    # occurrence), so every wall time up to wall(t) starts at or before t; only the hour
    # repeated at a fall-back can put later wall times before t.

    def _starts_after(self, at_ms: int) -> Iterator[int]:
        """Every start after ``at_ms``, ascending."""
        matches_ = croniter(self.cron, _wall(at_ms, self._zone))
        while True:
            start = _instant(matches_.get_next(datetime), self._zone)
            if start > at_ms:
                yield start

    def _last_start(self, at_ms: int) -> int:
        """The latest start at or before ``at_ms`` (recurring windows)."""
        matches_ = croniter(self.cron, _wall(at_ms, self._zone) + _FOLD)
        while True:
            start = _instant(matches_.get_prev(datetime), self._zone)
            if start <= at_ms:
                return start

    def _run_end(self, start_ms: int) -> int | None:
        """When the run of occurrences in force from ``start_ms`` on ends (None: not
        within 200 occurrences running together). Earlier starts end earlier (all
        last one duration), so the run's end is found from its latest start on."""
        end = start_ms + self.duration_ms
        following = self._starts_after(start_ms)
        for _ in range(_MAX_CHAINED):
            start = next(following)
            if start > end:
                return end
            end = start + self.duration_ms
        return None

    def active_at(self, at_ms: int) -> bool:
        """Whether the window is in force at ``at_ms``."""
        if self.starts_at_ms is not None and self.ends_at_ms is not None:
            return self.starts_at_ms <= at_ms < self.ends_at_ms
        return at_ms < self._last_start(at_ms) + self.duration_ms

    def next_start(self, at_ms: int) -> int | None:
        """The first start after ``at_ms`` (None for a one-off window already begun)."""
        if self.starts_at_ms is not None:
            return self.starts_at_ms if at_ms < self.starts_at_ms else None
        return next(self._starts_after(at_ms))

    def next_end(self, at_ms: int) -> int | None:
        """When the window next stops muting after ``at_ms``: the end of the run in force,
        else of the next run (None: a one-off window over, or no end in sight)."""
        if self.starts_at_ms is not None and self.ends_at_ms is not None:
            return self.ends_at_ms if at_ms < self.ends_at_ms else None
        last = self._last_start(at_ms)
        if at_ms < last + self.duration_ms:
            return self._run_end(last)
        return self._run_end(next(self._starts_after(at_ms)))

    def mutes(self, labels: Labels, at_ms: int) -> bool:
        """Whether the window mutes ``labels`` at ``at_ms``."""
        return matches(self.matchers, labels) and self.active_at(at_ms)


@dataclass
class _Known:
    active: bool
    from_ms: int
    until_ms: int | None  # None: for good


class MaintenanceSchedule:
    """The windows in force, answering "which are active now" from a per-window memo
    kept until the window's next start or end (no cron walk per alert)."""

    def __init__(self, windows: Sequence[MaintenanceWindow] = ()) -> None:
        self.windows: tuple[MaintenanceWindow, ...] = tuple(windows)
        self._known: dict[str, _Known] = {}

    def active(self, at_ms: int) -> list[MaintenanceWindow]:
        """The windows in force at ``at_ms``."""
        return [w for w in self.windows if self._active(w, at_ms)]

    def muting(self, labels: Labels, at_ms: int) -> list[str]:
        """The ``maintenance:<name>`` ids of the active windows that mute ``labels``."""
        return [
            w.silence_id
            for w in self.windows
            if matches(w.matchers, labels) and self._active(w, at_ms)
        ]

    def _active(self, window: MaintenanceWindow, at_ms: int) -> bool:
        known = self._known.get(window.name)
        if (
            known is None
            or at_ms < known.from_ms
            or (known.until_ms is not None and at_ms >= known.until_ms)
        ):
            active = window.active_at(at_ms)
            until: int | None
            if active:
                # No end in sight: look again after one occurrence's length.
                until = window.next_end(at_ms) or at_ms + window.duration_ms
            else:
                until = window.next_start(at_ms)
            known = _Known(active, at_ms, until)
            self._known[window.name] = known
        return known.active
