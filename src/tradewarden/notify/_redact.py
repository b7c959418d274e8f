"""Keep channel credentials out of every error, log line and API answer.

A channel's whole URL is its secret (a Telegram bot token is its host, a Slack webhook's
token its path), so every long piece of it is masked, not only a password. Apprise and
urllib3 log request URLs at debug level: a filter on their loggers masks the registered
secrets before a record goes anywhere.
"""

from __future__ import annotations

import logging
import re
import threading
from urllib.parse import unquote

from tradewarden.telemetry._redact import MASK, redact_text

__all__ = ["SecretScrubber", "install_log_filter", "remove_log_filter", "secret_parts"]

_SPLIT = re.compile(r"[/:@?&=#,;+\s]+")
# Shorter pieces are ports, chat ids and words ("services", "v2"); masking those too
# would make every error unreadable and protect nothing.
_MIN_PART = 8
_LOGGERS = ("apprise", "urllib3.connectionpool")


def secret_parts(secret: str) -> tuple[str, ...]:
    """Return the secret and every long piece of it, longest first, as written and decoded."""
    _, sep, rest = secret.partition("://")
    body = rest if sep else secret
    parts = {secret, body, unquote(secret), unquote(body)}
    for piece in _SPLIT.split(body):
        if len(piece) >= _MIN_PART:
            parts.add(piece)
            parts.add(unquote(piece))
    return tuple(sorted((part for part in parts if part), key=len, reverse=True))


class SecretScrubber:
    """Mask registered secrets, then every credential pattern, in any text."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._parts: tuple[str, ...] = ()

    def register(self, secret: str) -> None:
        """Mask ``secret`` (and its long pieces) from now on."""
        new = set(secret_parts(secret))
        with self._lock:
            if new.issubset(self._parts):
                return
            merged = new.union(self._parts)
            self._parts = tuple(sorted(merged, key=len, reverse=True))

    def __call__(self, text: str) -> str:
        for part in self._parts:
            if part in text:
                text = text.replace(part, MASK)
        return redact_text(text)


class _ScrubFilter(logging.Filter):
    def __init__(self, scrubber: SecretScrubber) -> None:
        super().__init__()
        self._scrubber = scrubber

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a malformed record: keep it, unformatted
            message = str(record.msg)
        record.msg = self._scrubber(message)
        record.args = None
        return True


_installed: dict[int, logging.Filter] = {}


def install_log_filter(scrubber: SecretScrubber) -> None:
    """Attach ``scrubber`` to the loggers of Apprise and urllib3 (once per scrubber)."""
    if id(scrubber) in _installed:
        return
    log_filter = _ScrubFilter(scrubber)
    _installed[id(scrubber)] = log_filter
    for name in _LOGGERS:
        logging.getLogger(name).addFilter(log_filter)


def remove_log_filter(scrubber: SecretScrubber) -> None:
    """Detach what ``install_log_filter`` attached."""
    log_filter = _installed.pop(id(scrubber), None)
    if log_filter is not None:
        for name in _LOGGERS:
            logging.getLogger(name).removeFilter(log_filter)
