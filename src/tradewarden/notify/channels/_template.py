"""Template for a new channel written here (when Apprise cannot do it): copy this file to
``channels/<type>.py``.

1. Add its config to ``notify/_config.py``: ``type: Literal["<type>"]``, the secret only
   as ``<field>_env`` / ``<field>_file`` (an inline value refused with ``_refuse_inline``),
   the rest validated and frozen; add it to the ``ChannelConfig`` union.
2. Write the class: ``name``, ``async send(message, *, timeout_s) -> SendResult`` and
   ``aclose()``. Read the secret with ``ChannelSecret.read()`` at every send (a rotated
   secret needs no restart; a missing one is a permanent failure). Never raise for a
   delivery problem: classify it (``classify_http``: 4xx permanent except 429; 429, 5xx
   and timeouts transient with their ``Retry-After``). ``HttpPoster`` does that for JSON.
3. Build it in ``build_channels`` (``channels/__init__.py``).
4. Test it against a loopback server speaking the service's wire format
   (``tests/support/notify_wire.py``), failures and the secret's absence from errors
   included.
"""

from __future__ import annotations

from tradewarden.notify._message import Message
from tradewarden.notify._outcome import SendResult
from tradewarden.notify._templates import Renderer
from tradewarden.notify.channels._base import ChannelSecret, HttpPoster

__all__ = ["TemplateChannel"]


class TemplateChannel:
    """POST the rendered title and body as JSON to a URL kept secret."""

    def __init__(
        self, name: str, secret: ChannelSecret, renderer: Renderer, http: HttpPoster
    ) -> None:
        self.name = name
        self._secret = secret
        self._renderer = renderer
        self._http = http

    async def send(self, message: Message, *, timeout_s: float) -> SendResult:
        """Deliver once."""
        try:
            url = self._secret.read()
        except ValueError as exc:
            return SendResult.permanent(str(exc))
        rendered = self._renderer.render(message)
        body = {"title": rendered.title, "body": rendered.body, "dedup_key": message.fingerprint}
        result, _ = await self._http.post_json(url, body, timeout_s=timeout_s, what="Template")
        return result

    async def aclose(self) -> None:
        """Nothing of its own to close (the HTTP session is shared)."""
