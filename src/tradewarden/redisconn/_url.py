"""Keep the password of a Redis URL out of everything that is shown or logged."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit, urlunsplit

__all__ = ["Redactor"]

_MASK = "***"


class Redactor:
    """Know the secrets of one Redis URL; mask them in the URL and in any text."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        secrets: set[str] = set()

        netloc = parts.netloc
        userinfo, at, hostport = netloc.rpartition("@")
        user, colon, password = userinfo.partition(":")
        if at and colon and password:
            secrets.update({password, unquote(password)})
            netloc = f"{user}:{_MASK}@{hostport}"

        # redis-py also reads a password from the query string: ?password=...
        pairs = []
        for pair in parts.query.split("&") if parts.query else []:
            key, equals, value = pair.partition("=")
            if equals and value and unquote(key).lower() == "password":
                secrets.update({value, unquote(value)})
                pairs.append(f"{key}={_MASK}")
            else:
                pairs.append(pair)

        # Longest first, so a password containing another one is masked whole.
        self._secrets = sorted(secrets, key=len, reverse=True)
        self.display_url = urlunsplit(
            (parts.scheme, netloc, parts.path, "&".join(pairs), parts.fragment)
        )

    def redact(self, text: str) -> str:
        """Return ``text`` with every secret of the URL replaced by ``***``."""
        for secret in self._secrets:
            text = text.replace(secret, _MASK)
        return text
