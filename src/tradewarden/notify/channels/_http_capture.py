"""Learn the HTTP answers an Apprise plugin got, to classify its failures.

Apprise says only whether a send worked; its plugins all go through ``requests``. While
a capture is active (a context variable, so only the thread running that send records),
every response ``requests`` returns is noted: status and headers, and for a 429 the wait
a JSON body asks for (Telegram's ``parameters.retry_after``, Discord's ``retry_after``,
which they send instead of a header); never the URL.
The wrapper is installed on first use, not at import.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

__all__ = ["Answer", "capture_answers"]

Answer = tuple[int, dict[str, str], float | None]

_answers: ContextVar[list[Answer] | None] = ContextVar("tradewarden_http_answers", default=None)
_install_lock = threading.Lock()
_state = {"installed": False}


def _install() -> None:
    with _install_lock:
        if _state["installed"]:
            return
        import requests

        original = requests.Session.send

        def send(self: requests.Session, request: Any, **kwargs: Any) -> Any:
            response = original(self, request, **kwargs)
            sink = _answers.get()
            if sink is not None:
                wait = _body_retry_after(response) if response.status_code == 429 else None
                sink.append((response.status_code, dict(response.headers), wait))
            return response

        requests.Session.send = send  # type: ignore[method-assign]
        _state["installed"] = True


def _body_retry_after(response: Any) -> float | None:
    try:
        body = response.json()
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    parameters = body.get("parameters")
    value = parameters.get("retry_after") if isinstance(parameters, dict) else None
    value = body.get("retry_after", value)
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return float(value)
    return None


@contextmanager
def capture_answers() -> Iterator[list[Answer]]:
    """Collect the (status, headers) of every ``requests`` response in this context."""
    _install()
    sink: list[Answer] = []
    token = _answers.set(sink)
    try:
        yield sink
    finally:
        _answers.reset(token)
