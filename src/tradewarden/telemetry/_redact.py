"""Mask secrets in text, URLs and structured log events.

Every rule errs on the side of masking: a log line that says ``token: ***`` where no
token was meant costs nothing, a leaked RPC key costs money.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from structlog.typing import EventDict, WrappedLogger

__all__ = [
    "MASK",
    "is_secret_name",
    "redact_mapping",
    "redact_secrets",
    "redact_text",
    "redact_url",
]

MASK = "***"

# Names whose value is a secret, alone or as the last word of a longer name
# (`admin_password`, `x-api-key`, `sentry_dsn`), but not as the first (`token_count`).
_CREDENTIAL_WORD = (
    r"(?:password|passwd|pwd|passphrase|secret|token|apikey"
    r"|(?:api|access|secret|private|signing|encryption)[_-]?key"
    r"|authorization|cookie|dsn|jwt|credentials?)"
)
_CREDENTIAL_NAME = rf"(?:[a-z0-9]+[_-])*{_CREDENTIAL_WORD}"
_CREDENTIAL_NAME_RE = re.compile(_CREDENTIAL_NAME, re.IGNORECASE)

# URL query keys are terser than the names in our own code: `?key=` and `?sig=` are
# how RPC providers and presigned URLs carry credentials.
_CREDENTIAL_QUERY_KEYS = frozenset({"key", "auth", "sig", "signature", "code"})

_AUTHORIZATION_RE = re.compile(
    r"(?P<head>(?<![\w-])(?:proxy-)?authorization[\"']?\s*[:=]\s*[\"']?)"
    r"(?:(?P<scheme>bearer|basic|digest|token|bot|apikey|negotiate)\s+)?"
    r"(?P<credential>[^\s\"',;]+)",
    re.IGNORECASE,
)
_BEARER_RE = re.compile(r"(?P<scheme>(?<![\w-])bearer)\s+(?P<token>[\w.~+/-]+=*)", re.IGNORECASE)
_COOKIE_RE = re.compile(r"(?P<head>(?<![\w-])(?:set-)?cookie\s*:\s*)[^\r\n]+", re.IGNORECASE)
# The scheme starts where a run of scheme characters starts and is taken possessively:
# trying every position of a long word was quadratic (16 KiB of `x` took seconds).
_USERINFO_RE = re.compile(
    r"(?P<head>(?<![a-z0-9+.-])[a-z0-9+.-]++://[^\s/?#@:]*:)(?P<password>[^\s/?#]*)@",
    re.IGNORECASE,
)
_QUERY_RE = re.compile(r"(?P<head>[?&](?P<key>[^\s=&#?]+)=)(?P<value>[^\s&#\"']*)")
_JWT_RE = re.compile(r"(?<![\w-])eyJ[\w-]*\.[\w-]+\.[\w-]+")
_OUR_API_KEY_RE = re.compile(r"(?<![\w-])tw_[\w-]{20,}")
# RPC providers that put the API key in the path instead of the query.
_RPC_PATH_KEY_RE = re.compile(
    r"(?P<head>://(?:[\w-]+\.)*(?:alchemy\.com/v\d|infura\.io/v\d|quiknode\.pro"
    r"|rpc\.ankr\.com/[\w-]+|blastapi\.io)/)(?P<key>[\w-]{16,})",
    re.IGNORECASE,
)
# `password=hunter2`, `"token": "abc"`, `'api_key': 'abc'`: the value may be quoted.
_PAIR_RE = re.compile(
    rf"(?P<head>(?<![\w-]){_CREDENTIAL_NAME}[\"']?\s*[:=]\s*)"
    r"(?:(?P<quote>[\"'])(?P<quoted>.*?)(?P=quote)|(?P<bare>[^\s\"'&,;)}\]]+))",
    re.IGNORECASE,
)
_AUTHORIZATION_NAME_RE = re.compile(r"(?:proxy-)?authorization\b", re.IGNORECASE)
_REPR_RE = re.compile(r"b?(?P<quote>[\"'])(?P<inner>.*)(?P=quote)")


def is_secret_name(name: str) -> bool:
    """Return whether a field, header or parameter called ``name`` holds a secret."""
    return _CREDENTIAL_NAME_RE.fullmatch(name.strip()) is not None


def _mask_authorization(match: re.Match[str]) -> str:
    scheme = match["scheme"]
    return f"{match['head']}{scheme} {MASK}" if scheme else f"{match['head']}{MASK}"


def _mask_query_value(match: re.Match[str]) -> str:
    key = match["key"]
    if not match["value"] or not (is_secret_name(key) or key.lower() in _CREDENTIAL_QUERY_KEYS):
        return match[0]
    return f"{match['head']}{MASK}"


def _mask_pair(match: re.Match[str]) -> str:
    if _AUTHORIZATION_NAME_RE.match(match["head"]):
        return match[0]  # _AUTHORIZATION_RE has masked it, keeping the scheme
    quote = match["quote"]
    if quote:
        return f"{match['head']}{quote}{MASK}{quote}"
    return f"{match['head']}{MASK}"


def redact_text(text: str) -> str:
    """Return ``text`` with every credential it carries replaced by ``***``."""
    text = _AUTHORIZATION_RE.sub(_mask_authorization, text)
    text = _BEARER_RE.sub(rf"\g<scheme> {MASK}", text)
    text = _COOKIE_RE.sub(rf"\g<head>{MASK}", text)
    text = _USERINFO_RE.sub(rf"\g<head>{MASK}@", text)
    text = _QUERY_RE.sub(_mask_query_value, text)
    text = _RPC_PATH_KEY_RE.sub(rf"\g<head>{MASK}", text)
    text = _JWT_RE.sub(MASK, text)
    text = _OUR_API_KEY_RE.sub(f"tw_{MASK}", text)
    return _PAIR_RE.sub(_mask_pair, text)


def redact_url(url: str) -> str:
    """Return ``url`` safe to show: no password, no API key in query or path."""
    return redact_text(url)


def _is_blank(value: Any) -> bool:
    # An unset secret is shown as unset: that is what one debugs, and it leaks nothing.
    return value is None or (isinstance(value, str) and not value)


def _unrepr(name: str) -> str:
    # Serialized ASGI scopes (Sentry's frame locals) spell header names `b'cookie'`.
    match = _REPR_RE.fullmatch(name)
    return match["inner"] if match else name


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, Mapping):
        return redact_mapping(value)
    if isinstance(value, list | tuple) and len(value) == 2 and isinstance(value[0], str):
        # A (name, value) pair, as headers often come: mask by name like a mapping.
        name, item = value
        secret = is_secret_name(_unrepr(name)) and not _is_blank(item)
        pair = (redact_text(name), MASK if secret else _redact_value(item))
        return list(pair) if isinstance(value, list) else pair
    if isinstance(value, list | tuple):
        items = [_redact_value(item) for item in value]
        return items if isinstance(value, list) else tuple(items)
    # Renderers would call repr() on it (sets included); do it here, then redact.
    return redact_text(repr(value))


def redact_mapping(mapping: Mapping[Any, Any]) -> dict[Any, Any]:
    """Return a copy of ``mapping``: secret-named values masked, text redacted, deeply."""
    redacted: dict[Any, Any] = {}
    for key, value in mapping.items():
        if isinstance(key, str) and is_secret_name(key) and not _is_blank(value):
            redacted[key] = MASK
        else:
            redacted[key] = _redact_value(value)
    return redacted


def redact_secrets(_logger: WrappedLogger, _method_name: str, event_dict: EventDict) -> EventDict:
    """Mask secrets in a structlog event: values of secret keys and secrets inside text.

    Place after ``format_exc_info`` so that rendered tracebacks are redacted too.
    """
    return redact_mapping(event_dict)
