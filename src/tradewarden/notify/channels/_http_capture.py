"""Learn the HTTP answers an Apprise plugin got, to classify its failures.

Apprise says only whether a send worked; its plugins all go through ``requests``. While
a capture is active (a context variable, so only the thread running that send records),
every response ``requests`` returns is noted: status and headers, never the body or URL.
The wrapper is installed on first use, not at import.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

__all__ = ["Answer", "capture_answers"]

Answer = tuple[int, dict[str, str]]

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
                sink.append((response.status_code, dict(response.headers)))
            return response

        requests.Session.send = send  # type: ignore[method-assign]
        _state["installed"] = True


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
