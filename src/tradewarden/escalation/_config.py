"""The config file's ``people:``, ``schedules:`` and ``escalation_policies:`` sections.

A person is a name and the notify channels that reach them (their SMS, e-mail, Telegram).
A schedule has layers (``primary``, ``secondary``, ...), each a weekly rotation of people
handing off on a weekday at a local time in the schedule's time zone. A policy is ordered
steps (channels, people, on-call layers; then wait), repeated up to ``repeat`` times; a
policy may be the default for some severities (else the seeds' defaults apply).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterable
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from tradewarden.notify import Severity

__all__ = [
    "LayerConfig",
    "OnCallTarget",
    "PersonConfig",
    "PolicyConfig",
    "ScheduleConfig",
    "StepConfig",
    "check_escalation",
    "parse_on_call",
]

Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")]
Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
WEEKDAYS: tuple[str, ...] = (
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
)
# A step's sequence number is round * steps + step: bounded so it fits its slot (_policy).
MAX_STEPS = 20
MAX_REPEAT = 50
ANY_SCHEDULE = "*"


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PersonConfig(_Frozen):
    """Someone who can be paged: the channels (of ``channels:``) that reach them."""

    name: Name
    channels: tuple[Name, ...] = Field(min_length=1)


class LayerConfig(_Frozen):
    """One weekly rotation: ``members`` take turns of ``rotation_weeks`` weeks, handing off
    on ``handoff_weekday`` at ``handoff_time`` (local time). ``start`` is the week the first
    member begins (the handoff on or before that date)."""

    name: Name = "primary"
    members: tuple[Name, ...] = Field(min_length=1)
    handoff_weekday: Weekday = "monday"
    handoff_time: dt.time = dt.time(9, 0)
    rotation_weeks: int = Field(default=1, ge=1, le=52)
    start: dt.date = dt.date(2024, 1, 1)

    @field_validator("handoff_time")
    @classmethod
    def _naive(cls, value: dt.time) -> dt.time:
        if value.tzinfo is not None:
            raise ValueError("give the handoff time without an offset: the schedule's time_zone")
        return value


class ScheduleConfig(_Frozen):
    """An on-call schedule: layers in the schedule's IANA ``time_zone``."""

    name: Name
    time_zone: str = "UTC"
    layers: tuple[LayerConfig, ...] = Field(min_length=1)

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (an IANA name: Europe/Berlin)") from None
        return value

    @field_validator("layers")
    @classmethod
    def _unique_layers(cls, layers: tuple[LayerConfig, ...]) -> tuple[LayerConfig, ...]:
        _unique((layer.name for layer in layers), "layer")
        return layers

    def layer(self, name: str) -> LayerConfig | None:
        """Return the layer called ``name``."""
        return next((layer for layer in self.layers if layer.name == name), None)


class OnCallTarget(_Frozen):
    """Whoever is on call in ``layer`` of ``schedule`` (``*``: of every schedule)."""

    schedule: str
    layer: str


def parse_on_call(value: str) -> OnCallTarget:
    """Read ``schedule:layer`` (the layer defaults to ``primary``; ``*`` is every schedule)."""
    schedule, _, layer = value.partition(":")
    if not schedule:
        raise ValueError(f"on_call {value!r}: give schedule:layer (ops:primary, *:secondary)")
    return OnCallTarget(schedule=schedule, layer=layer or "primary")


class StepConfig(_Frozen):
    """Notify ``channels``, ``people`` and the ``on_call`` layers (``schedule:layer``) at
    once, then wait ``wait_minutes`` for an acknowledgement before the next step."""

    channels: tuple[Name, ...] = ()
    people: tuple[Name, ...] = ()
    on_call: tuple[str, ...] = ()
    wait_minutes: float = Field(default=15.0, ge=0, le=7 * 24 * 60)

    @field_validator("on_call")
    @classmethod
    def _targets(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        for value in values:
            parse_on_call(value)
        return values

    @property
    def wait_s(self) -> float:
        """The wait in seconds."""
        return self.wait_minutes * 60.0

    def on_call_targets(self) -> tuple[OnCallTarget, ...]:
        """Return the parsed ``on_call`` targets."""
        return tuple(parse_on_call(value) for value in self.on_call)


class PolicyConfig(_Frozen):
    """Ordered steps, the whole list repeated up to ``repeat`` more times while nobody
    acknowledges; ``severities`` it is the default for."""

    name: Name
    steps: tuple[StepConfig, ...] = Field(default=(), max_length=MAX_STEPS)
    repeat: int = Field(default=0, ge=0, le=MAX_REPEAT)
    severities: tuple[Severity, ...] = ()


def _unique(names: Iterable[str], what: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ValueError(f"{what} name {name!r} is used twice")
        seen.add(name)


def check_escalation(
    people: tuple[PersonConfig, ...],
    schedules: tuple[ScheduleConfig, ...],
    policies: tuple[PolicyConfig, ...],
    channels: Iterable[str],
) -> None:
    """Raise ValueError naming the first reference to something not configured (a
    channel, a person, a schedule or its layer) or a severity with two default policies."""
    channel_names = set(channels)
    _unique((p.name for p in people), "person")
    _unique((s.name for s in schedules), "schedule")
    _unique((p.name for p in policies), "escalation policy")
    person_names = {p.name for p in people}
    for person in people:
        for channel in person.channels:
            if channel not in channel_names:
                raise ValueError(
                    f"people[{person.name}].channels: {channel!r} is not a configured channel"
                )
    for schedule in schedules:
        for layer in schedule.layers:
            for member in layer.members:
                if member not in person_names:
                    raise ValueError(
                        f"schedules[{schedule.name}].layers[{layer.name}].members: {member!r}"
                        " is not in people:"
                    )
    defaults: dict[Severity, str] = {}
    for policy in policies:
        for severity in policy.severities:
            if severity in defaults:
                raise ValueError(
                    f"escalation_policies[{policy.name}].severities: {severity.value} already"
                    f" defaults to {defaults[severity]!r}"
                )
            defaults[severity] = policy.name
        for number, step in enumerate(policy.steps, start=1):
            _check_step(
                f"escalation_policies[{policy.name}].steps[{number}]",
                step,
                channel_names,
                person_names,
                {s.name: s for s in schedules},
            )


def _check_step(
    at: str,
    step: StepConfig,
    channel_names: set[str],
    person_names: set[str],
    schedules: dict[str, ScheduleConfig],
) -> None:
    for channel in step.channels:
        if channel not in channel_names:
            raise ValueError(f"{at}.channels: {channel!r} is not a configured channel")
    for name in step.people:
        if name not in person_names:
            raise ValueError(f"{at}.people: {name!r} is not in people:")
    for target in step.on_call_targets():
        if target.schedule == ANY_SCHEDULE:
            continue
        schedule = schedules.get(target.schedule)
        if schedule is None:
            raise ValueError(f"{at}.on_call: no schedule {target.schedule!r}")
        if schedule.layer(target.layer) is None:
            raise ValueError(
                f"{at}.on_call: schedule {target.schedule!r} has no layer {target.layer!r}"
            )
