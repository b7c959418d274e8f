"""The channel port and what every channel shares: its secret, its templates, HTTP."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

import aiohttp

from tradewarden.clock import Clock
from tradewarden.notify._message import Message
from tradewarden.notify._outcome import SendResult, classify_http
from tradewarden.notify._redact import SecretScrubber
from tradewarden.probes._secrets import read_secret

__all__ = ["Channel", "ChannelSecret", "HttpPoster"]


class Channel(Protocol):
    """Where notifications go. ``send`` never raises for a delivery problem: it says
    what happened, with an error already free of secrets."""

    name: str

    async def send(self, message: Message, *, timeout_s: float) -> SendResult:
        """Deliver ``message`` once."""
        ...

    async def aclose(self) -> None:
        """Release what the channel holds."""
        ...


class ChannelSecret:
    """A channel's URL or key, read from its environment variable or file at every send
    (a rotated secret needs no restart) and registered with the scrubber."""

    def __init__(
        self,
        channel: str,
        field: str,
        *,
        env: str | None,
        file: Path | None,
        scrubber: SecretScrubber,
        problem: Callable[[str], str | None] = lambda _value: None,
    ) -> None:
        self._channel, self._field, self._env, self._file = channel, field, env, file
        self._scrubber = scrubber
        self._problem = problem
        # The last value checked and its verdict: read at every send, the value rarely
        # changes, and checking it again (Apprise parses the URL and instantiates its
        # plugin) cost milliseconds on the event loop per notification.
        self._checked: tuple[str, str | None] | None = None

    def read(self) -> str:
        """Return the secret; raise ValueError naming the channel and where it is kept."""

        def _check(value: str) -> str | None:
            checked = self._checked
            if checked is not None and checked[0] == value:
                return checked[1]
            # Registered before anything (Apprise's own parsing logs included) can show it.
            self._scrubber.register(value)
            problem = self._problem(value)
            self._checked = (value, problem)
            return problem

        try:
            value = read_secret(self._field, None, self._env, self._file, _check)
        except ValueError as exc:
            raise ValueError(f"channel {self._channel!r}: {exc}") from None
        return value


class HttpPoster:
    """POST JSON over one aiohttp session, opened on first use in the running loop."""

    def __init__(self, clock: Clock, scrubber: SecretScrubber) -> None:
        self._clock = clock
        self._scrubber = scrubber
        self._session: aiohttp.ClientSession | None = None

    async def post_json(
        self, url: str, body: Mapping[str, Any], *, timeout_s: float, what: str
    ) -> tuple[SendResult, bytes]:
        """POST ``body``; return the classified answer and its body."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=None), trust_env=False
            )
        data = json.dumps(body, separators=(",", ":")).encode()
        try:
            async with self._session.post(
                url,
                data=data,
                headers={"Content-Type": "application/json"},
                timeout=aiohttp.ClientTimeout(total=timeout_s),
            ) as response:
                payload = await response.read()
                result = classify_http(
                    response.status, response.headers, now=self._clock.now(), what=what
                )
        except TimeoutError:
            return SendResult.transient(f"{what} did not answer within {timeout_s:g} s"), b""
        except (aiohttp.ClientError, OSError) as exc:
            error = self._scrubber(f"{what} unreachable: {type(exc).__name__}: {exc}")
            return SendResult.transient(error), b""
        if result.error is not None:
            detail = payload[:300].decode("utf-8", "replace").strip()
            error = f"{result.error}: {detail}" if detail else result.error
            result = SendResult(
                result.outcome, self._scrubber(error), result.retry_after_s, result.status_code
            )
        return result, payload

    async def aclose(self) -> None:
        """Close the session."""
        if self._session is not None:
            await self._session.close()
            self._session = None
