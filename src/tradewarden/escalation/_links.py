"""Signed acknowledgement links: ``<base>/v1/ack/<token>``, expiring, never a default secret.

The token is a JWT (HS256 only) naming the alert key, signed with a key derived from the
runtime's signing key by HMAC-SHA256 over a fixed label, so an ack link can never pass as
an access token or the other way round. A JWT is what the log redaction already masks in
every string (``eyJ...``), so an access log or a traceback that carries the path does
not carry the token. ``GET`` of the link only shows a confirmation page: mail clients'
link scanners fetch links, and a fetch must not acknowledge.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

import jwt

from tradewarden.errors import AuthError

__all__ = ["ACK_LINK_TTL_S", "AckLinks", "AckTicket"]

_ALGORITHM = "HS256"
_AUDIENCE = "tradewarden-ack"
_LABEL = b"tradewarden escalation ack link v1"
_MIN_KEY_BYTES = 32
# A link in a message holds for a day: longer than any default escalation runs.
ACK_LINK_TTL_S = 24 * 3600.0


@dataclass(frozen=True)
class AckTicket:
    """What a valid link says: the alert key, and until when it holds."""

    key: str
    expires_at: float


class AckLinks:
    """Issue and verify ack links for ``base_url`` valid ``ttl_s`` seconds."""

    def __init__(self, signing_key: str, *, base_url: str, ttl_s: float) -> None:
        if len(signing_key.encode()) < _MIN_KEY_BYTES:
            raise ValueError(f"the signing key must be at least {_MIN_KEY_BYTES} bytes")
        self._key = hmac.new(signing_key.encode(), _LABEL, hashlib.sha256).hexdigest()
        self.base_url = base_url.rstrip("/")
        self.ttl_s = ttl_s

    def token(self, key: str, *, now: float) -> str:
        """Return a token acknowledging ``key``, valid ``ttl_s`` from ``now``."""
        claims = {"aud": _AUDIENCE, "sub": key, "iat": int(now), "exp": int(now + self.ttl_s)}
        return jwt.encode(claims, self._key, algorithm=_ALGORITHM)

    def url(self, key: str, *, now: float) -> str:
        """Return the link for ``key``."""
        return f"{self.base_url}/v1/ack/{self.token(key, now=now)}"

    def verify(self, token: str, *, now: float) -> AckTicket:
        """Return the ticket of a valid, unexpired token or raise AuthError (one message for
        every failure: the caller learns nothing about why)."""
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[_ALGORITHM],
                audience=_AUDIENCE,
                # Time claims are checked below against the injected clock, not PyJWT's.
                options={
                    "require": ["exp", "sub", "aud"],
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except jwt.PyJWTError:
            raise AuthError("this acknowledgement link is invalid or has expired") from None
        expires_at = float(claims["exp"])
        if now >= expires_at or not isinstance(claims["sub"], str):
            raise AuthError("this acknowledgement link is invalid or has expired")
        return AckTicket(key=claims["sub"], expires_at=expires_at)
