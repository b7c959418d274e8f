"""Alertmanager's ``time_intervals``: times of day, weekdays, days of the month, months,
years and a location; an instant is in an interval when every field given accepts it.

The format is Alertmanager's (``timeinterval`` package): ``times`` are ``HH:MM`` ranges
with an exclusive end (``24:00`` allowed); ranges are ``start:end`` inclusive; weekdays
and months by name or number; a negative day of the month counts from its end.
"""

from __future__ import annotations

import calendar
import re
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["TimeInterval", "TimeIntervalSpec", "TimeRange", "in_any"]

# As in Go: sunday=0 .. saturday=6 (so "sunday:saturday" is the whole week, as in Alertmanager).
_WEEKDAYS = {name.lower(): (i + 1) % 7 for i, name in enumerate(calendar.day_name)}
_MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
_CLOCK = re.compile(r"^(\d{2}):(\d{2})$")


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _minutes(text: str, *, end: bool) -> int:
    found = _CLOCK.match(text)
    if found is None:
        raise ValueError(f"couldn't parse timestamp {text!r}, invalid format")
    hours, minutes = int(found[1]), int(found[2])
    if hours > 24 or minutes > 59 or (hours == 24 and (minutes or not end)):
        raise ValueError(f"timestamp {text!r} out of range")
    return hours * 60 + minutes


class TimeRange(_Frozen):
    """``start_time`` (inclusive) to ``end_time`` (exclusive), ``HH:MM``."""

    start_time: str
    end_time: str

    @field_validator("start_time")
    @classmethod
    def _start(cls, value: str) -> str:
        _minutes(value, end=False)
        return value

    @field_validator("end_time")
    @classmethod
    def _end(cls, value: str) -> str:
        _minutes(value, end=True)
        return value

    def bounds(self) -> tuple[int, int]:
        """Return the range in minutes of the day."""
        return _minutes(self.start_time, end=False), _minutes(self.end_time, end=True)


def _range(text: str, names: dict[str, int], low: int, high: int, what: str) -> tuple[int, int]:
    parts = str(text).split(":")
    if len(parts) > 2 or not all(parts):
        raise ValueError(f"invalid {what} range {text!r}")

    def one(part: str) -> int:
        key = part.strip().lower()
        if key in names:
            return names[key]
        try:
            number = int(key)
        except ValueError:
            raise ValueError(f"{part!r} is not a valid {what}") from None
        if high < low:
            raise ValueError(f"{part!r} is not a valid {what}")
        if not low <= number <= high:
            raise ValueError(f"{what} {number} out of range {low}..{high}")
        return number

    start, end = one(parts[0]), one(parts[-1])
    return start, end


class TimeIntervalSpec(_Frozen):
    """One entry of an interval's list (Alertmanager's ``TimeInterval``)."""

    times: tuple[TimeRange, ...] = ()
    weekdays: tuple[str, ...] = ()
    days_of_month: tuple[str, ...] = ()
    months: tuple[str, ...] = ()
    years: tuple[str, ...] = ()
    location: str | None = None

    @field_validator("weekdays")
    @classmethod
    def _weekdays(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        for value in values:
            start, end = _range(value, _WEEKDAYS, -1, -1, "weekday")
            if start > end:
                raise ValueError(f"weekday range {value!r}: start after end")
        return values

    @field_validator("days_of_month")
    @classmethod
    def _days(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        for value in values:
            start, end = _range(value, {}, -31, 31, "day of month")
            if 0 in (start, end):
                raise ValueError(f"day of month range {value!r}: 0 is not a day")
            if (start > 0) == (end > 0) and start > end:
                raise ValueError(f"day of month range {value!r}: start after end")
        return values

    @field_validator("months")
    @classmethod
    def _months(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        for value in values:
            start, end = _range(value, _MONTHS, 1, 12, "month")
            if start > end:
                raise ValueError(f"month range {value!r}: start after end")
        return values

    @field_validator("years")
    @classmethod
    def _years(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        for value in values:
            start, end = _range(value, {}, 1, 9999, "year")
            if start > end:
                raise ValueError(f"year range {value!r}: start after end")
        return values

    @field_validator("location")
    @classmethod
    def _location(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown time zone location {value!r}") from None
        return value

    def contains(self, at: datetime) -> bool:
        """Whether the aware datetime ``at`` is inside this interval."""
        local = at.astimezone(ZoneInfo(self.location or "UTC"))
        if self.times:
            minute = local.hour * 60 + local.minute
            if not any(lo <= minute < hi for lo, hi in (t.bounds() for t in self.times)):
                return False
        if self.weekdays and not _in(
            (local.weekday() + 1) % 7, self.weekdays, names=_WEEKDAYS, lo=-1, hi=-1, what="weekday"
        ):
            return False
        if self.days_of_month and not self._day_ok(local):
            return False
        if self.months and not _in(
            local.month, self.months, names=_MONTHS, lo=1, hi=12, what="month"
        ):
            return False
        return not self.years or _in(local.year, self.years, names={}, lo=1, hi=9999, what="year")

    def _day_ok(self, local: datetime) -> bool:
        days = calendar.monthrange(local.year, local.month)[1]
        for value in self.days_of_month:
            start, end = _range(value, {}, -31, 31, "day of month")
            start = start if start > 0 else days + start + 1
            end = end if end > 0 else days + end + 1
            if start <= local.day <= min(end, days):
                return True
        return False


def _in(
    value: int,
    ranges: tuple[str, ...],
    *,
    names: dict[str, int],
    lo: int,
    hi: int,
    what: str,
) -> bool:
    for text in ranges:
        start, end = _range(text, names, lo, hi, what)
        if start <= value <= end:
            return True
    return False


class TimeInterval(_Frozen):
    """A named list of intervals (the ``time_intervals:`` section's entries)."""

    name: str = Field(min_length=1)
    time_intervals: tuple[TimeIntervalSpec, ...] = ()

    def contains(self, at: datetime) -> bool:
        """Whether ``at`` falls in any of the intervals."""
        return any(spec.contains(at) for spec in self.time_intervals)


def in_any(intervals: list[TimeInterval], at: datetime) -> bool:
    """Whether ``at`` falls in any of ``intervals``."""
    return any(interval.contains(at) for interval in intervals)
