"""Shared pieces of the alert-input tests: a served warden with one webhook channel, a
loopback inbox that parses what it delivers, and a clock a test can move forward.

The channel is an Apprise ``json://`` webhook whose body template is the message as JSON
(status, title, labels), so a test reads the alertname and labels of each notification
instead of parsing text. The route groups by every label (``...``): each alert is a
group of its own, flushed after a short ``group_wait`` and, once resolved, at the next
short ``group_interval``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Self

import pytest
from aiohttp import web

from e2e._receiver import serve_app
from support.eventually import eventually
from support.net import LOOPBACK
from support.warden import serve_runtime
from tradewarden.auth import PasswordHasher, Role
from tradewarden.config import ServiceConfig, Settings
from tradewarden.runtime import SYSTEM, Runtime

__all__ = [
    "CHANNEL_ENV",
    "Delivered",
    "Inbox",
    "JumpClock",
    "Rig",
    "Target",
    "Warden",
    "inbox",
    "inputs_config",
    "jump_clock",
    "ms_since",
    "rig",
    "running_warden",
]

CHANNEL_ENV = "TW_E2E_INPUTS_URL"
# The notification as JSON: what the inbox parses (tojson escapes, still valid JSON).
BODY = '{{ {"status": status, "title": title, "labels": labels} | tojson }}'


class JumpClock:
    """The system clock, whose wall-clock reading a test can move forward (an NTP step):
    a rule's ``for: 1m`` or a 5-minute ``increase()`` window passes without waiting.

    The monotonic reading is the system's: timeouts and sleeps are not shortened.
    """

    def __init__(self) -> None:
        self.offset_s = 0.0

    def now(self) -> float:
        """Return the system's wall-clock time plus the jumps so far."""
        return time.time() + self.offset_s

    def monotonic(self) -> float:
        """Return the system's monotonic reading."""
        return time.monotonic()

    def jump(self, seconds: float) -> None:
        """Move the wall clock forward by ``seconds``."""
        if seconds < 0:
            raise ValueError("the clock only jumps forward")
        self.offset_s += seconds


@dataclass(frozen=True)
class Delivered:
    """One notification the channel delivered: when it arrived (loop time) and what."""

    at: float
    status: str
    title: str
    labels: dict[str, str]

    @property
    def alertname(self) -> str:
        """The alert's name (the group's labels hold every label of its one alert)."""
        return self.labels.get("alertname", "")

    def matches(self, status: str, alertname: str, labels: Mapping[str, str]) -> bool:
        """Whether this is ``status`` of ``alertname`` carrying at least ``labels``."""
        return (
            self.status == status
            and self.alertname == alertname
            and all(self.labels.get(k) == v for k, v in labels.items())
        )


@dataclass
class Inbox:
    """A loopback webhook: Apprise's ``json://`` posts land here and are parsed."""

    delivered: list[Delivered] = field(default_factory=list)
    port: int = 0
    _runner: web.AppRunner | None = None

    @property
    def apprise_url(self) -> str:
        """The channel's Apprise URL."""
        return f"json://{LOOPBACK}:{self.port}/inbox"

    def of(self, alertname: str) -> list[Delivered]:
        """Every notification of ``alertname``, in arrival order."""
        return [d for d in self.delivered if d.alertname == alertname]

    def find(self, status: str, alertname: str, **labels: str) -> Delivered | None:
        """The first ``status`` notification of ``alertname`` with ``labels``, if any."""
        return next((d for d in self.delivered if d.matches(status, alertname, labels)), None)

    async def wait_for(
        self, status: str, alertname: str, *, timeout_s: float = 10.0, **labels: str
    ) -> Delivered:
        """Wait for a ``status`` notification of ``alertname`` with ``labels``; return it."""
        await eventually(
            lambda: self.find(status, alertname, **labels) is not None, timeout_s=timeout_s
        )
        found = self.find(status, alertname, **labels)
        assert found is not None
        return found

    async def __aenter__(self) -> Self:
        app = web.Application()
        app.router.add_post("/{channel}", self._post)
        self._runner, self.port = await serve_app(app)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _post(self, request: web.Request) -> web.Response:
        at = asyncio.get_running_loop().time()
        body = json.loads(await request.read())
        message = json.loads(body["message"])
        self.delivered.append(
            Delivered(
                at=at,
                status=message["status"],
                title=body["title"],
                labels=dict(message["labels"]),
            )
        )
        return web.Response(status=200, text="ok")


def inputs_config(**sections: Any) -> ServiceConfig:
    """The service config of these tests, as the config file would give it: one channel
    to the inbox, every alert its own group, short waits; ``sections`` adds monitors,
    scrape configs, control, ... (or replaces ``metrics``)."""
    document: dict[str, Any] = {
        "channels": [
            {
                "type": "apprise",
                "name": "inbox",
                "url_env": CHANNEL_ENV,
                "retry": {
                    "initial_backoff_s": 0.1,
                    "max_backoff_s": 0.5,
                    "deadline_s": 60,
                    "timeout_s": 5,
                },
                "templates": {"body": BODY},
            }
        ],
        "receivers": [{"name": "team", "channels": ["inbox"]}],
        "route": {
            "receiver": "team",
            "group_by": ["..."],
            "group_wait": "100ms",
            "group_interval": "500ms",
            "repeat_interval": "1h",
        },
        # The warden's own series (trading state, breakers) are rewritten this often.
        "metrics": {"self_scrape_interval_s": 0.5, "snapshot_enabled": False},
    }
    document.update(sections)
    return ServiceConfig.model_validate(document)


@dataclass(frozen=True)
class Warden:
    """A served warden: its URL, an operator's API key and the runtime."""

    url: str
    key: str
    runtime: Runtime

    @property
    def headers(self) -> dict[str, str]:
        """The operator's Authorization header."""
        return {"Authorization": f"Bearer {self.key}"}


@asynccontextmanager
async def running_warden(
    settings: Settings,
    config: ServiceConfig,
    *,
    clock: JumpClock,
    hasher: PasswordHasher,
) -> AsyncIterator[Warden]:
    """Start the service (monitors, scrapes, rules, alerting, delivery) and serve it."""
    runtime = Runtime(settings, config, clock=clock, hasher=hasher)
    try:
        await runtime.start(bootstrap_admin=False, run_probes=True)
        key = await runtime.auth.create_api_key("e2e", Role.OPERATOR, actor=SYSTEM)
    except BaseException:
        await runtime.close()
        raise
    async with serve_runtime(runtime, access_log=False) as url:
        yield Warden(url=url, key=key.key, runtime=runtime)


@dataclass(frozen=True)
class Rig:
    """What every input test needs: the test's settings, the inbox, the clock."""

    settings: Settings
    inbox: Inbox
    clock: JumpClock
    hasher: PasswordHasher

    def warden(
        self, config: ServiceConfig, settings: Settings | None = None
    ) -> AbstractAsyncContextManager[Warden]:
        """Start and serve a warden with ``config`` (and other ``settings``)."""
        return running_warden(
            settings or self.settings, config, clock=self.clock, hasher=self.hasher
        )


@pytest.fixture
async def inbox(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Inbox]:
    """The channel's webhook target, its URL in the channel's environment variable."""
    async with Inbox() as inbox:
        monkeypatch.setenv(CHANNEL_ENV, inbox.apprise_url)
        yield inbox


@pytest.fixture
def jump_clock() -> JumpClock:
    """The wall clock, movable forward."""
    return JumpClock()


@pytest.fixture
def rig(
    settings: Settings, inbox: Inbox, jump_clock: JumpClock, fast_hasher: PasswordHasher
) -> Rig:
    """The test's settings, inbox and clock together."""
    return Rig(settings, inbox, jump_clock, fast_hasher)


def ms_since(start: float, delivered: Delivered) -> int:
    """Milliseconds from ``start`` (loop time) to the notification's arrival."""
    return round(1000 * (delivered.at - start))


class Target:
    """A local HTTP service whose answer a test flips (``status``)."""

    def __init__(self) -> None:
        self.status = 200
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def __aenter__(self) -> Self:
        app = web.Application()
        app.router.add_get("/health", self._get)
        self._runner, port = await serve_app(app)
        self.url = f"http://{LOOPBACK}:{port}/health"
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _get(self, _request: web.Request) -> web.Response:
        return web.Response(status=self.status, text="ok" if self.status == 200 else "broken")
