"""The routers' order: hot paths first, and no route shadows one of a later router."""

from __future__ import annotations

import re

from fastapi.routing import APIRoute

from tradewarden.api._app import routers
from tradewarden.api.routers import alerting, heartbeats


def _routes() -> list[tuple[int, APIRoute]]:
    return [
        (position, route)
        for position, router in enumerate(routers())
        for route in router.routes
        if isinstance(route, APIRoute)
    ]


def _sample(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x", path)


def test_no_route_is_shadowed_by_a_route_of_an_earlier_router() -> None:
    routes = _routes()
    shadowed = [
        (earlier.path, later.path)
        for i, earlier in routes
        for j, later in routes
        if i < j
        and earlier.methods & later.methods
        and earlier.path_regex.match(_sample(later.path))
    ]
    assert shadowed == []


def test_every_router_is_included_once_and_the_hot_ones_come_first() -> None:
    order = routers()
    assert len(set(map(id, order))) == len(order)
    assert order.index(alerting.router) < 3
    assert order.index(heartbeats.router) < 4
