"""The routing tree, pure: ``route(alert)`` returns the routes an alert goes to.

It is Alertmanager's algorithm (``dispatch/route.go``): a node matches when all its
matchers do; its children are tried in order, the first that matches stops the search
unless it has ``continue: true``; when no child matches, the node itself is the match.
Unset fields inherit from the parent; the root's defaults are Alertmanager's
(group_wait 30s, group_interval 5m, repeat_interval 4h). A P0 alert waits for nothing
unless a ``group_wait`` is written on its route or an ancestor.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from tradewarden.alerting._config import ReceiverConfig, RouteConfig, SeveritiesConfig
from tradewarden.alerting._matchers import Matchers, format_matchers, matches
from tradewarden.alerting._model import Alert, fingerprint
from tradewarden.alerting._severity import severity_of
from tradewarden.notify import Severity
from tradewarden.rules._durations import parse_duration_ms
from tradewarden.series import Labels

__all__ = ["Route", "RouteMatch", "Router", "build_route"]

DEFAULT_GROUP_WAIT_MS = 30_000
DEFAULT_GROUP_INTERVAL_MS = 300_000
DEFAULT_REPEAT_INTERVAL_MS = 4 * 3_600_000


@dataclass(frozen=True, slots=True)
class Route:
    """A node of the tree with its inherited settings resolved."""

    id: str
    receiver: str | None
    matchers: Matchers
    continue_: bool
    # None: group by every label (``['...']``); else these labels (empty: one group).
    group_by: tuple[str, ...] | None
    group_wait_ms: int
    group_wait_set: bool
    group_interval_ms: int
    repeat_interval_ms: int
    active_time_intervals: tuple[str, ...]
    mute_time_intervals: tuple[str, ...]
    routes: tuple[Route, ...]

    def match(self, labels: Labels) -> list[Route]:
        """Return the matching routes under and including this node, in order."""
        if not matches(self.matchers, labels):
            return []
        found: list[Route] = []
        for child in self.routes:
            hits = child.match(labels)
            found.extend(hits)
            if hits and not child.continue_:
                break
        return found or [self]

    def group_labels(self, labels: Labels) -> Labels:
        """Return the labels that name the alert's group on this route."""
        if self.group_by is None:
            return labels
        return Labels.from_pairs((k, v) for k, v in labels if k in self.group_by)

    def walk(self) -> list[Route]:
        """Return this node and every node under it, depth first."""
        out = [self]
        for child in self.routes:
            out.extend(child.walk())
        return out


def build_route(
    config: RouteConfig | None, *, _parent: Route | None = None, _id: str = "0"
) -> Route:
    """Resolve a ``route:`` section (``None``: one root route to the severity's channels)."""
    config = config or RouteConfig()

    def inherit(value: str | None, parent: int, default: int) -> int:
        if value is not None:
            return parse_duration_ms(value)
        return parent if _parent is not None else default

    group_by: tuple[str, ...] | None
    if config.group_by is not None:
        group_by = None if config.group_by == ("...",) else tuple(config.group_by)
    else:
        group_by = _parent.group_by if _parent is not None else ()
    node = Route(
        id=_id,
        receiver=config.receiver or (_parent.receiver if _parent else None),
        matchers=config.matcher_list(),
        continue_=config.continue_,
        group_by=group_by,
        group_wait_ms=inherit(
            config.group_wait, _parent.group_wait_ms if _parent else 0, DEFAULT_GROUP_WAIT_MS
        ),
        group_wait_set=config.group_wait is not None or bool(_parent and _parent.group_wait_set),
        group_interval_ms=inherit(
            config.group_interval,
            _parent.group_interval_ms if _parent else 0,
            DEFAULT_GROUP_INTERVAL_MS,
        ),
        repeat_interval_ms=inherit(
            config.repeat_interval,
            _parent.repeat_interval_ms if _parent else 0,
            DEFAULT_REPEAT_INTERVAL_MS,
        ),
        active_time_intervals=config.active_time_intervals,
        mute_time_intervals=config.mute_time_intervals,
        routes=(),
    )
    children = tuple(
        build_route(child, _parent=node, _id=f"{_id}.{i}") for i, child in enumerate(config.routes)
    )
    return replace(node, routes=children)


# Every alert routed asks for its group's fingerprint, and a group's labels repeat: keep
# the recent ones (bounded: ``group_by: ['...']`` makes a group of every alert).
_GROUP_FINGERPRINTS: dict[Labels, str] = {}
_GROUP_FINGERPRINTS_KEPT = 4096


def _group_fingerprint(labels: Labels) -> str:
    known = _GROUP_FINGERPRINTS.get(labels)
    if known is None:
        if len(_GROUP_FINGERPRINTS) >= _GROUP_FINGERPRINTS_KEPT:
            _GROUP_FINGERPRINTS.clear()
        known = _GROUP_FINGERPRINTS[labels] = fingerprint(labels)
    return known


@dataclass(frozen=True, slots=True)
class RouteMatch:
    """Where one alert goes on one route: the receiver's channels, its group and timers."""

    route: Route
    receiver: str | None
    channels: tuple[str, ...]
    severity: Severity
    group_labels: Labels
    group_wait_ms: int

    @property
    def group_key(self) -> str:
        """Identify the aggregation group: the route and the group labels."""
        return f"{self.route.id}:{_group_fingerprint(self.group_labels)}"

    def describe(self) -> str:
        """Return ``receiver`` and the route's matchers, for logs and ``routes test``."""
        return f"{self.receiver or '(severity default)'} {format_matchers(self.route.matchers)}"


class Router:
    """The tree and what it needs to answer: receivers and the severities' channels."""

    def __init__(
        self,
        root: Route,
        receivers: Mapping[str, ReceiverConfig] | None = None,
        severities: SeveritiesConfig | None = None,
    ) -> None:
        self.root = root
        self.receivers = dict(receivers or {})
        self.severities = severities or SeveritiesConfig()

    @classmethod
    def from_config(
        cls,
        route: RouteConfig | None,
        receivers: tuple[ReceiverConfig, ...] = (),
        severities: SeveritiesConfig | None = None,
    ) -> Router:
        """Build the router of the config file's sections."""
        return cls(build_route(route), {r.name: r for r in receivers}, severities)

    def channels_of(self, receiver: str | None, severity: Severity) -> tuple[str, ...]:
        """Return a receiver's channels: its list, a channel of that name, or (no
        receiver) the severity's default channels."""
        if receiver is None:
            return self.severities.policy(severity).channels
        if receiver in self.receivers:
            return self.receivers[receiver].channels
        return (receiver,)

    def route(self, alert: Alert) -> list[RouteMatch]:
        """Return every route ``alert`` goes to, in the tree's order."""
        severity = severity_of(alert.labels)
        out = []
        for node in self.root.match(alert.labels):
            wait = node.group_wait_ms
            if severity is Severity.P0 and not node.group_wait_set:
                wait = 0
            out.append(
                RouteMatch(
                    route=node,
                    receiver=node.receiver,
                    channels=self.channels_of(node.receiver, severity),
                    severity=severity,
                    group_labels=node.group_labels(alert.labels),
                    group_wait_ms=wait,
                )
            )
        return out
