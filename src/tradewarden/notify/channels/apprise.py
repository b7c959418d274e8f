"""Every Apprise URL: Telegram, Slack, Discord, e-mail, Twilio SMS and calls, JSON and
form webhooks, and the rest of what Apprise supports.

Apprise is synchronous (``requests``, ``smtplib``): a send runs in one of the channel's
own threads, and the attempt's timeout starts only once a thread has it (a send queued
behind others is not cut off before it began, then sent anyway). Apprise's own per-plugin
throttle (a sleep of up to 5.5 s between two sends) is switched off: the channel's
``rate_limit`` is the one rate limit, and it waits in the outbox, not in a thread.

Apprise reports only success or failure; the HTTP answers its plugin got are captured
(``_http_capture``) so that 4xx is permanent, 429 and 5xx are transient with their
``Retry-After``. A failure with no HTTP answer (a refused connection, SMTP) is
transient: the delivery deadline bounds it.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tradewarden.clock import Clock
from tradewarden.notify._message import Message, MessageStatus, Severity
from tradewarden.notify._outcome import SendResult, classify_http
from tradewarden.notify._redact import SecretScrubber
from tradewarden.notify._templates import Renderer
from tradewarden.notify.channels._base import ChannelSecret
from tradewarden.notify.channels._http_capture import Answer, capture_answers

__all__ = ["AppriseChannel", "apprise_url_problem"]

_THREADS = 4  # sends in flight per channel


def _apprise() -> Any:
    """Import Apprise and load its plugins (once), quietly.

    Its e-mail plugin imports ``imghdr`` (for PGPy), deprecated since Python 3.11: the
    warning says nothing we can act on.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*imghdr.*", category=DeprecationWarning)
        import apprise
        from apprise.manager_plugins import NotificationManager

        NotificationManager().load_modules()  # type: ignore[no-untyped-call]
    return apprise


def apprise_url_problem(url: str) -> str | None:
    """Return why Apprise cannot use ``url`` (unknown service, bad fields), without it."""
    apprise = _apprise()
    if apprise.Apprise.instantiate(url, asset=_asset(), suppress_exceptions=True) is None:
        return "is not a valid Apprise URL (unknown service or invalid fields)"
    return None


def _asset() -> Any:
    apprise = _apprise()

    try:
        # Nothing on disk: the outbox is the warden's memory, not Apprise's cache.
        return apprise.AppriseAsset(storage_mode=apprise.PersistentStoreMode.MEMORY)
    except (AttributeError, TypeError):  # pragma: no cover - Apprise before persistent storage
        return apprise.AppriseAsset()


def _notify_type(message: Message) -> str:
    if message.status is MessageStatus.RESOLVED:
        return "success"
    if message.status is MessageStatus.ACKNOWLEDGED:
        return "info"
    return {Severity.P0: "failure", Severity.P1: "failure", Severity.P2: "warning"}.get(
        message.severity, "info"
    )


class AppriseChannel:
    """Send through one Apprise URL (read from the environment or a file at each send)."""

    def __init__(
        self,
        name: str,
        secret: ChannelSecret,
        renderer: Renderer,
        clock: Clock,
        scrubber: SecretScrubber,
    ) -> None:
        self.name = name
        self._secret = secret
        self._renderer = renderer
        self._clock = clock
        self._scrubber = scrubber
        self._lock = threading.Lock()
        self._cached: tuple[str, Any] | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._slots = asyncio.Semaphore(_THREADS)

    def _apprise(self, url: str) -> Any:
        with self._lock:
            if self._cached is not None and self._cached[0] == url:
                return self._cached[1]
            instance = _apprise().Apprise(asset=_asset())
            if not instance.add(url):
                return None
            for plugin in instance:
                plugin.request_rate_per_sec = 0  # see the module's docstring
            self._cached = (url, instance)
            return instance

    def _send_blocking(self, url: str, title: str, body: str, notify_type: str) -> SendResult:
        instance = self._apprise(url)
        if instance is None:
            return SendResult.permanent(
                f"channel {self.name!r}: the URL is not a valid Apprise URL"
                " (unknown service or invalid fields)"
            )
        with capture_answers() as answers:
            try:
                delivered = bool(instance.notify(body=body, title=title, notify_type=notify_type))
            except Exception as exc:  # noqa: BLE001 - a plugin bug is a failed send, not a crash
                error = f"Apprise raised {type(exc).__name__}: {exc}"
                return SendResult.transient(self._scrubber(error))
        if delivered:
            return SendResult.ok(answers[-1][0] if answers else None)
        return self._failure(answers)

    def _failure(self, answers: list[Answer]) -> SendResult:
        """Classify a failed send by the last HTTP answer its plugin got."""
        if not answers:
            return SendResult.transient("Apprise could not deliver (no HTTP answer)")
        status, headers, body_wait = answers[-1]
        result = classify_http(status, headers, now=self._clock.now(), what="the service")
        if result.error is None:  # 2xx, yet the plugin saw a failure in the body
            return SendResult.transient(f"the service answered HTTP {status} but refused")
        if result.retry_after_s is None and body_wait is not None:
            return dataclasses.replace(result, retry_after_s=body_wait)
        return result

    async def send(self, message: Message, *, timeout_s: float) -> SendResult:
        """Deliver once through Apprise, in a thread."""
        try:
            url = self._secret.read()
        except ValueError as exc:
            return SendResult.permanent(str(exc))
        rendered = self._renderer.render(message)
        if self._executor is None:
            self._executor = ThreadPoolExecutor(_THREADS, thread_name_prefix=f"apprise-{self.name}")
        loop = asyncio.get_running_loop()
        context = contextvars.copy_context()
        try:
            async with self._slots, asyncio.timeout(timeout_s):
                return await loop.run_in_executor(
                    self._executor,
                    context.run,
                    self._send_blocking,
                    url,
                    rendered.title,
                    rendered.body,
                    _notify_type(message),
                )
        except TimeoutError:
            # The thread finishes on its own (Apprise's socket timeouts); it may yet deliver.
            return SendResult.transient(f"no answer within {timeout_s:g} s")

    async def aclose(self) -> None:
        """Drop the cached Apprise instance."""
        with self._lock:
            self._cached = None
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
