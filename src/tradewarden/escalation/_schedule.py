"""Who is on call: a pure function of the schedule, the overrides and the instant.

Rotations count calendar weeks in the schedule's time zone, not elapsed seconds, so a
handoff stays at its local time across DST changes (a week with a DST change is 167 or
169 hours long). A handoff time that does not exist on the day of a spring-forward change
(02:30 in Europe/Berlin) happens at the instant the wall clock jumps over it (PEP 495's
``fold=0``: read with the offset before the change); one that happens twice on a
fall-back day happens at its first occurrence.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from tradewarden.escalation._config import WEEKDAYS, LayerConfig, ScheduleConfig

__all__ = ["Override", "handoff_before", "rotation_member", "who_is_on_call"]


@dataclass(frozen=True)
class Override:
    """``replacement`` stands in for ``replaces`` in ``schedule`` (one ``layer``, or every
    layer when None) from ``starts_at`` (inclusive) to ``ends_at`` (exclusive)."""

    schedule: str
    layer: str | None
    replaces: str
    replacement: str
    starts_at: dt.datetime
    ends_at: dt.datetime

    def covers(self, schedule: str, layer: str, at: dt.datetime) -> bool:
        """Return whether this override applies to ``layer`` of ``schedule`` at ``at``."""
        return (
            self.schedule == schedule
            and (self.layer is None or self.layer == layer)
            and self.starts_at <= at < self.ends_at
        )


@lru_cache(maxsize=64)
def _zone(name: str) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(name)


def _handoff_date(layer: LayerConfig, day: dt.date) -> dt.date:
    """Return the handoff weekday on or before ``day``."""
    weekday = WEEKDAYS.index(layer.handoff_weekday)
    return day - dt.timedelta(days=(day.weekday() - weekday) % 7)


def _instant(day: dt.date, at: dt.time, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    # Aware datetimes with the same tzinfo compare by wall time, ignoring DST; in UTC
    # they compare as instants.
    return dt.datetime.combine(day, at, tzinfo=zone).astimezone(dt.UTC)


def handoff_before(schedule: ScheduleConfig, layer: LayerConfig, at: dt.datetime) -> dt.date:
    """Return the local date of the last handoff at or before ``at`` (aware)."""
    zone = _zone(schedule.time_zone)
    day = _handoff_date(layer, at.astimezone(zone).date())
    if _instant(day, layer.handoff_time, zone) > at.astimezone(dt.UTC):
        day -= dt.timedelta(days=7)
    return day


def rotation_member(schedule: ScheduleConfig, layer: LayerConfig, at: dt.datetime) -> str:
    """Return who the rotation alone puts on call at ``at``, overrides aside."""
    weeks = (handoff_before(schedule, layer, at) - _handoff_date(layer, layer.start)).days // 7
    turn = (weeks // layer.rotation_weeks) % len(layer.members)
    return layer.members[turn]


def who_is_on_call(
    schedule: ScheduleConfig,
    layer: str,
    at: dt.datetime,
    overrides: Iterable[Override] = (),
) -> str | None:
    """Return who is on call in ``layer`` of ``schedule`` at ``at`` (aware), or None when
    the schedule has no such layer.

    Overrides apply in the order given (oldest first): each one covering ``at`` whose
    ``replaces`` is on call at that point hands the turn to its ``replacement``, so
    "bob for alice" then "carol for bob" puts carol on.
    """
    if at.tzinfo is None:
        raise ValueError("who_is_on_call needs an aware datetime")
    config = schedule.layer(layer)
    if config is None:
        return None
    person = rotation_member(schedule, config, at)
    for override in overrides:
        if override.covers(schedule.name, layer, at) and override.replaces == person:
            person = override.replacement
    return person
