"""Secrets in monitor specs: a connection URL inline (as ``SecretStr``), from an environment
variable or from a file; exactly one. Read on every check, so a rotated secret is picked up
without a restart, and masked wherever it could surface (errors, labels, samples).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Annotated
from urllib.parse import unquote, urlsplit

from pydantic import Field, SecretStr

from tradewarden.telemetry._redact import MASK, redact_text

__all__ = [
    "EnvName",
    "Scrubber",
    "check_url",
    "one_source",
    "read_secret",
    "secrets_of",
]

EnvName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=200)]


def one_source(field: str, inline: object, env: object, file: object) -> None:
    """Raise ValueError unless exactly one of ``field``, ``field_env``, ``field_file`` is set."""
    names = (field, f"{field}_env", f"{field}_file")
    given = [name for name, value in zip(names, (inline, env, file), strict=True) if value]
    if len(given) != 1:
        raise ValueError(
            f"set exactly one of {', '.join(names)} (got {', '.join(given) or 'none'})"
        )


def read_secret(
    field: str,
    inline: SecretStr | None,
    env: str | None,
    file: Path | None,
    problem: Callable[[str], str | None],
) -> str:
    """Return the secret from where it is configured; raise ValueError saying what is wrong.

    ``problem`` checks the value's shape (a URL's scheme, ...) without quoting it.
    """
    if inline is not None:
        return inline.get_secret_value()
    if env is not None:
        where = f"environment variable {env} ({field}_env)"
        value = os.environ.get(env, "").strip()
        if not value:
            raise ValueError(f"{where} is not set")
    elif file is not None:
        where = f"{field}_file {file}"
        try:
            value = file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ValueError(f"{where}: cannot read: {exc.strerror or exc}") from None
        if not value:
            raise ValueError(f"{where} is empty")
    else:  # unreachable when the spec validates one_source
        raise ValueError(f"no {field}, {field}_env or {field}_file configured")
    found = problem(value)
    if found:
        raise ValueError(f"{where} {found}")
    return value


def check_url(url: str, schemes: frozenset[str], expected: str) -> str | None:
    """Return what is wrong with ``url`` (not a URL, wrong scheme), without quoting it."""
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises on a port that is not a number
    except ValueError:
        return "is not a valid URL"
    if parts.scheme not in schemes:
        return f"must be a {expected} URL"
    return None


def secrets_of(url: str) -> tuple[str, ...]:
    """Return the passwords in ``url`` (userinfo or ``?password=``), as written and decoded."""
    parts = urlsplit(url)
    found: set[str] = set()
    userinfo, at, _ = parts.netloc.rpartition("@")
    _, colon, password = userinfo.partition(":")
    if at and colon and password:
        found.add(password)
    for pair in parts.query.split("&"):
        key, equals, value = pair.partition("=")
        if equals and value and "password" in unquote(key).lower():
            found.add(value)
    found |= {unquote(secret) for secret in found}
    # Longest first, so a password containing another one is masked whole.
    return tuple(sorted((secret for secret in found if secret), key=len, reverse=True))


class Scrubber:
    """Mask the secrets of one URL in any text, then every other credential pattern."""

    def __init__(self, url: str) -> None:
        self._secrets = secrets_of(url)
        self.target = self(url)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        return redact_text(text)
