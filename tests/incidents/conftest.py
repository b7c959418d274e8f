"""Fixtures of the incident tests: a store, the service, dispatchers that open incidents."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tradewarden.alerting import Alert, RouteConfig, Router
from tradewarden.alerting._dispatch import Dispatcher
from tradewarden.alerting._silence_store import SilenceStore
from tradewarden.clock import ManualClock
from tradewarden.incidents import (
    Diagnosis,
    IncidentDetail,
    IncidentObserver,
    IncidentsConfig,
    IncidentService,
)
from tradewarden.notify import AppriseChannelConfig, Outbox
from tradewarden.series import Labels
from tradewarden.store import Database, Incident, IncidentFilter

TREE: dict[str, Any] = {
    "receiver": "chat",
    "group_by": ["alertname"],
    "group_wait": "0s",
    "group_interval": "1m",
}


@pytest.fixture
def outbox(database: Database, clock: ManualClock) -> Outbox:
    """Return an outbox over two channels (nothing sends: the rows are the result)."""
    configs = {
        name: AppriseChannelConfig(type="apprise", name=name, url_env="TW_TEST_UNUSED")
        for name in ("chat", "sms")
    }
    return Outbox(database, clock, configs)


ServiceFactory = Callable[..., IncidentService]


@pytest.fixture
def make_service(database: Database, clock: ManualClock) -> ServiceFactory:
    """Return a factory of incident services over the test's store."""

    def _make(
        config: IncidentsConfig | None = None,
        *,
        diagnosis: Diagnosis | None = None,
        escalation: Any = None,
        db: Database | None = None,
    ) -> IncidentService:
        return IncidentService(
            db or database, clock, config, escalation=escalation, diagnosis=diagnosis
        )

    return _make


@pytest.fixture
async def service(make_service: ServiceFactory) -> AsyncIterator[IncidentService]:
    """Return an incident service with the default policy (P0 and P1 open incidents)."""
    service = make_service()
    yield service
    await service.close()


DispatcherFactory = Callable[..., Dispatcher]


@pytest.fixture
def make_dispatcher(database: Database, clock: ManualClock, outbox: Outbox) -> DispatcherFactory:
    """Return a factory of dispatchers over ``TREE`` telling ``service``'s observer."""

    def _make(service: IncidentService, **options: Any) -> Dispatcher:
        router = Router.from_config(RouteConfig.model_validate(options.pop("route", TREE)))
        return Dispatcher(
            service.database,
            clock,
            router,
            enqueue=outbox.enqueue,
            silences=SilenceStore(service.database, clock),
            observers=[IncidentObserver(service)],
            **options,
        )

    return _make


def alert(
    clock: ManualClock,
    *,
    ago_s: float = 0,
    annotations: Mapping[str, str] | None = None,
    **labels: str,
) -> Alert:
    """Return an alert firing since ``ago_s`` seconds before now."""
    starts = int((clock.now() - ago_s) * 1000)
    now = int(clock.now() * 1000)
    return Alert(
        Labels.of(labels), dict(annotations or {}), starts_at_ms=starts, ends_at_ms=now + 600_000
    )


def ended(clock: ManualClock, firing: Alert) -> Alert:
    """Return the resolution of ``firing`` as of now."""
    return Alert(
        firing.labels,
        dict(firing.annotations),
        firing.starts_at_ms,
        ends_at_ms=int(clock.now() * 1000),
    )


async def incidents(service: IncidentService) -> list[Incident]:
    """Return every incident, oldest first."""
    async with service.database.read_session() as session:
        rows, _total = await service.list(session, IncidentFilter(), limit=1000)
    return list(reversed(rows))


async def detail(service: IncidentService, incident_id: str) -> IncidentDetail:
    """Return an incident with its alerts, timeline and action items."""
    async with service.database.read_session() as session:
        return await service.detail(session, incident_id)


def kinds(found: IncidentDetail) -> list[str]:
    """Return the kinds of the timeline's entries in order."""
    return [entry.kind for entry in found.timeline]


async def in_session(database: Database, work: Callable[[AsyncSession], Any]) -> Any:
    """Run ``work(session)`` in one committed transaction; return what it returns."""
    async with database.session() as session:
        return await work(session)
