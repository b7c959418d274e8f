"""A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps what it receives."""

from __future__ import annotations

import email
import email.policy
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any, Self

from aiosmtpd.controller import Controller

from support.net import LOOPBACK, free_port

__all__ = ["Received", "SmtpServer"]


@dataclass(frozen=True)
class Received:
    """One e-mail: envelope and parsed message."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage


class _Handler:
    def __init__(self, sink: list[Received]) -> None:
        self._sink = sink

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's hook name
        content = (
            envelope.content if isinstance(envelope.content, bytes) else envelope.content.encode()
        )
        self._sink.append(
            Received(
                envelope.mail_from,
                tuple(envelope.rcpt_tos),
                email.message_from_bytes(content, policy=email.policy.default),
            )
        )
        return "250 OK"


@dataclass
class SmtpServer:
    """aiosmtpd in its own thread; ``port`` once entered."""

    received: list[Received] = field(default_factory=list)
    port: int = 0
    _controller: Controller | None = None

    def __enter__(self) -> Self:
        self.port = free_port()
        self._controller = Controller(_Handler(self.received), hostname=LOOPBACK, port=self.port)
        self._controller.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._controller is not None:
            self._controller.stop()
