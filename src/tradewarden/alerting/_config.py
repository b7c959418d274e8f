"""The config file's alerting sections, in Alertmanager's YAML shape.

``route:`` (the routing tree), ``receivers:`` (a receiver is a list of channel names of
the ``channels:`` section), ``inhibit_rules:``, ``time_intervals:``, ``severities:``
(per severity: the response-time target and the channels used when a route names no
receiver) and ``maintenance_windows:`` (matchers muted once or on a cron schedule).
:func:`check_alerting` checks the references between them; its messages name the field
(``route.routes.1.receiver``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Annotated, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from tradewarden.alerting._maintenance import (
    MaintenanceError,
    MaintenanceWindow,
    check_cron,
    load_zone,
)
from tradewarden.alerting._matchers import (
    MatcherError,
    Matchers,
    legacy_matchers,
    parse_matcher_lines,
)
from tradewarden.alerting._timeintervals import TimeInterval
from tradewarden.notify import Severity
from tradewarden.rules._durations import parse_duration_ms

__all__ = [
    "InhibitRuleConfig",
    "MaintenanceWindowConfig",
    "ReceiverConfig",
    "RouteConfig",
    "SeveritiesConfig",
    "SeverityPolicy",
    "check_alerting",
    "check_maintenance_windows",
    "check_receivers",
    "check_route",
    "check_severities",
    "check_time_intervals",
]

Name = Annotated[str, Field(min_length=1, max_length=200)]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _check_lines(lines: Iterable[str]) -> None:
    try:
        parse_matcher_lines(lines)
    except MatcherError as exc:
        raise ValueError(str(exc)) from None


def _check_legacy(match: Mapping[str, str] | None, match_re: Mapping[str, str] | None) -> None:
    try:
        legacy_matchers(match, match_re)
    except MatcherError as exc:
        raise ValueError(str(exc)) from None


def _duration(value: str | None) -> str | None:
    if value is not None:
        parse_duration_ms(value)
    return value


class RouteConfig(_Frozen):
    """A node of the routing tree (Alertmanager's ``route``); unset fields inherit."""

    receiver: Name | None = None
    group_by: tuple[str, ...] | None = None
    matchers: tuple[str, ...] = ()
    match: dict[str, str] | None = None
    match_re: dict[str, str] | None = None
    continue_: bool = Field(default=False, alias="continue")
    group_wait: str | None = None
    group_interval: str | None = None
    repeat_interval: str | None = None
    active_time_intervals: tuple[Name, ...] = ()
    mute_time_intervals: tuple[Name, ...] = ()
    routes: tuple[RouteConfig, ...] = ()

    @field_validator("matchers")
    @classmethod
    def _matchers(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        _check_lines(value)
        return value

    @field_validator("match_re")
    @classmethod
    def _match_re(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        _check_legacy(None, value)
        return value

    @field_validator("group_wait", "group_interval", "repeat_interval")
    @classmethod
    def _durations(cls, value: str | None) -> str | None:
        return _duration(value)

    @field_validator("group_interval", "repeat_interval")
    @classmethod
    def _positive(cls, value: str | None) -> str | None:
        if value is not None and parse_duration_ms(value) == 0:
            raise ValueError("must be greater than 0")
        return value

    @field_validator("group_by")
    @classmethod
    def _group_by(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is not None and "..." in value and len(value) > 1:
            raise ValueError("cannot have wildcard '...' and other labels at the same time")
        if value is not None and len(set(value)) != len(value):
            raise ValueError("duplicated label in group_by")
        return value

    def matcher_list(self) -> Matchers:
        """Return this node's matchers: ``match``, ``match_re`` and ``matchers`` together."""
        return legacy_matchers(self.match, self.match_re) + parse_matcher_lines(self.matchers)


class ReceiverConfig(_Frozen):
    """A named list of channels (of the ``channels:`` section)."""

    name: Name
    channels: tuple[Name, ...] = ()


class InhibitRuleConfig(_Frozen):
    """Mute alerts matching the target while an alert matching the source fires with the
    same values of the ``equal`` labels (Alertmanager's ``inhibit_rules``)."""

    source_matchers: tuple[str, ...] = ()
    target_matchers: tuple[str, ...] = ()
    source_match: dict[str, str] | None = None
    source_match_re: dict[str, str] | None = None
    target_match: dict[str, str] | None = None
    target_match_re: dict[str, str] | None = None
    equal: tuple[str, ...] = ()

    @field_validator("source_matchers", "target_matchers")
    @classmethod
    def _matchers(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        _check_lines(value)
        return value

    @field_validator("source_match_re", "target_match_re")
    @classmethod
    def _match_re(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        _check_legacy(None, value)
        return value

    def source(self) -> Matchers:
        """Return the source matchers (legacy maps and ``source_matchers``)."""
        return legacy_matchers(self.source_match, self.source_match_re) + parse_matcher_lines(
            self.source_matchers
        )

    def target(self) -> Matchers:
        """Return the target matchers (legacy maps and ``target_matchers``)."""
        return legacy_matchers(self.target_match, self.target_match_re) + parse_matcher_lines(
            self.target_matchers
        )


class SeverityPolicy(_Frozen):
    """A severity's response-time target and its default channels."""

    response_time: str
    channels: tuple[Name, ...] = ()

    @field_validator("response_time")
    @classmethod
    def _response(cls, value: str) -> str:
        parse_duration_ms(value)
        return value

    @property
    def response_time_ms(self) -> int:
        """The response-time target in milliseconds."""
        return parse_duration_ms(self.response_time)


class SeveritiesConfig(_Frozen):
    """Per severity (the seeds' table): P0 15 minutes, P1 30 minutes, P2 4 hours, P3 a day."""

    P0: SeverityPolicy = SeverityPolicy(response_time="15m")
    P1: SeverityPolicy = SeverityPolicy(response_time="30m")
    P2: SeverityPolicy = SeverityPolicy(response_time="4h")
    P3: SeverityPolicy = SeverityPolicy(response_time="1d")

    def policy(self, severity: Severity) -> SeverityPolicy:
        """Return the policy of ``severity``."""
        policy: SeverityPolicy = getattr(self, severity.value)
        return policy


class MaintenanceWindowConfig(_Frozen):
    """Alerts matching ``matchers`` are muted (like a silence) from ``starts_at`` to
    ``ends_at``, or for ``duration`` from each time ``cron`` matches in ``timezone``."""

    name: Name
    # Required: a window muting everything says so (``alertname=~".+"``).
    matchers: tuple[str, ...] = Field(min_length=1)
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None
    cron: str | None = None
    duration: str | None = None
    timezone: str = "UTC"
    comment: str = Field(default="", max_length=2000)

    @field_validator("matchers")
    @classmethod
    def _matchers(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        _check_lines(value)
        if not parse_matcher_lines(value):
            raise ValueError("at least one matcher is required")
        return value

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                check_cron(value)
            except MaintenanceError as exc:
                raise ValueError(str(exc).removeprefix("cron: ")) from None
        return value

    @field_validator("duration")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is not None and parse_duration_ms(value) <= 0:
            raise ValueError("must be greater than 0")
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            load_zone(value)
        except MaintenanceError as exc:
            raise ValueError(str(exc).removeprefix("timezone: ")) from None
        return value

    @model_validator(mode="after")
    def _one_form(self) -> Self:
        once = self.starts_at is not None or self.ends_at is not None
        recurring = self.cron is not None or self.duration is not None
        if once and recurring:
            raise ValueError(
                "cron: give either starts_at and ends_at (once) or cron and duration, not both"
            )
        if not once and not recurring:
            raise ValueError(
                "starts_at: give either starts_at and ends_at (once) or cron and duration"
            )
        if once and (self.starts_at is None or self.ends_at is None):
            missing = "starts_at" if self.starts_at is None else "ends_at"
            raise ValueError(f"{missing}: a one-off window needs both starts_at and ends_at")
        if recurring and (self.cron is None or self.duration is None):
            missing = "cron" if self.cron is None else "duration"
            raise ValueError(f"{missing}: a recurring window needs both cron and duration")
        if (
            self.starts_at is not None
            and self.ends_at is not None
            and self.ends_at <= self.starts_at
        ):
            raise ValueError("ends_at: the window must end after it starts")
        self.window()  # anything left is a bug here, not in the file: fail loudly
        return self

    def window(self) -> MaintenanceWindow:
        """Return the pure window this config describes."""
        return MaintenanceWindow(
            name=self.name,
            matchers=parse_matcher_lines(self.matchers),
            comment=self.comment,
            starts_at_ms=None if self.starts_at is None else _epoch_ms(self.starts_at),
            ends_at_ms=None if self.ends_at is None else _epoch_ms(self.ends_at),
            cron=self.cron,
            duration_ms=0 if self.duration is None else parse_duration_ms(self.duration),
            timezone=self.timezone,
        )


def _epoch_ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def check_maintenance_windows(windows: Iterable[MaintenanceWindowConfig]) -> list[str]:
    """Return the names defined twice."""
    problems: list[str] = []
    seen: set[str] = set()
    for i, window in enumerate(windows):
        if window.name in seen:
            problems.append(f"{i}.name: maintenance window {window.name!r} is defined twice")
        seen.add(window.name)
    return problems


def check_alerting(
    *,
    route: RouteConfig | None,
    receivers: Iterable[ReceiverConfig],
    time_intervals: Iterable[TimeInterval],
    severities: SeveritiesConfig,
    channels: Iterable[str],
) -> list[str]:
    """Return every broken reference, each as ``field.path: problem`` (empty when fine)."""
    channel_names = set(channels)
    receivers = tuple(receivers)
    time_intervals = tuple(time_intervals)
    problems = [f"receivers.{p}" for p in check_receivers(receivers, channel_names)]
    problems += [f"time_intervals.{p}" for p in check_time_intervals(time_intervals)]
    problems += [f"severities.{p}" for p in check_severities(severities, channel_names)]
    if route is not None:
        targets = {r.name for r in receivers} | channel_names
        intervals = {i.name for i in time_intervals}
        problems += [f"route.{p}" for p in check_route(route, targets, intervals)]
    return problems


def check_receivers(receivers: Iterable[ReceiverConfig], channels: set[str]) -> list[str]:
    """Return the receivers' problems (``0.channels.1: unknown channel 'x'``)."""
    problems: list[str] = []
    seen: set[str] = set()
    for i, receiver in enumerate(receivers):
        if receiver.name in seen:
            problems.append(f"{i}.name: receiver {receiver.name!r} is defined twice")
        seen.add(receiver.name)
        for j, channel in enumerate(receiver.channels):
            if channel not in channels:
                problems.append(f"{i}.channels.{j}: unknown channel {channel!r}")
    return problems


def check_time_intervals(intervals: Iterable[TimeInterval]) -> list[str]:
    """Return the names defined twice."""
    problems: list[str] = []
    seen: set[str] = set()
    for i, interval in enumerate(intervals):
        if interval.name in seen:
            problems.append(f"{i}.name: time interval {interval.name!r} is defined twice")
        seen.add(interval.name)
    return problems


def check_severities(severities: SeveritiesConfig, channels: set[str]) -> list[str]:
    """Return the severities' unknown channels."""
    return [
        f"{severity.value}.channels.{j}: unknown channel {channel!r}"
        for severity in Severity
        for j, channel in enumerate(severities.policy(severity).channels)
        if channel not in channels
    ]


def check_route(route: RouteConfig, receivers: set[str], intervals: set[str]) -> list[str]:
    """Return the tree's problems, paths relative to the root (``routes.1.receiver: ...``)."""
    problems: list[str] = []
    if route.matcher_list():
        problems.append("matchers: the root route must not have any matchers")
    if route.continue_:
        problems.append("continue: cannot have continue in the root route")
    if route.mute_time_intervals:
        problems.append("mute_time_intervals: the root route cannot have mute time intervals")
    if route.active_time_intervals:
        problems.append("active_time_intervals: the root route cannot have active time intervals")
    _check_node(route, "", receivers, intervals, problems)
    return problems


def _check_node(
    node: RouteConfig, path: str, receivers: set[str], intervals: set[str], problems: list[str]
) -> None:
    if node.receiver is not None and node.receiver not in receivers:
        problems.append(f"{path}receiver: undefined receiver {node.receiver!r} used in route")
    for field in ("active_time_intervals", "mute_time_intervals"):
        for j, name in enumerate(getattr(node, field)):
            if name not in intervals:
                problems.append(
                    f"{path}{field}.{j}: undefined time interval {name!r} used in route"
                )
    for i, child in enumerate(node.routes):
        _check_node(child, f"{path}routes.{i}.", receivers, intervals, problems)
