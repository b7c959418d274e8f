"""Alertmanager's matcher syntax: ``{severity="critical", team=~"ops|dev"}``.

The parser follows Alertmanager's (``pkg/labels/parse.go``): braces optional, matchers
split on commas outside double quotes, values quoted or bare, ``\\n``, ``\\"`` and
``\\\\`` escapes in quoted values. Regexes are fully anchored. A missing label matches as
the empty string. The legacy ``match`` / ``match_re`` maps become matchers too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from tradewarden.series import LabelMatcher, Labels, MatchOp

__all__ = [
    "MatcherError",
    "Matchers",
    "format_matchers",
    "legacy_matchers",
    "make_matcher",
    "matches",
    "parse_matcher_lines",
    "parse_matchers",
]

_MATCHER = re.compile(r"^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(=~|=|!=|!~)\s*(.*?)\s*$", re.DOTALL)
_OPS = {"=": MatchOp.EQUAL, "!=": MatchOp.NOT_EQUAL, "=~": MatchOp.REGEX, "!~": MatchOp.NOT_REGEX}

Matchers = tuple[LabelMatcher, ...]


class MatcherError(ValueError):
    """A matcher that does not parse; the message quotes it."""


def parse_matchers(text: str) -> Matchers:
    """Parse ``{a="b", c=~"d"}`` (braces optional) into matchers."""
    body = text.strip().removeprefix("{").removesuffix("}")
    tokens: list[str] = []
    token: list[str] = []
    inside = escaped = False
    for char in body:
        if char == "," and not inside:
            tokens.append("".join(token))
            token = []
            continue
        if char == '"':
            if not escaped:
                inside = not inside
            else:
                escaped = False
        elif char == "\\":
            escaped = not escaped
        else:
            escaped = False
        token.append(char)
    if last := "".join(token).strip():
        tokens.append(last)
    return tuple(_parse_one(t) for t in tokens)


def _parse_one(text: str) -> LabelMatcher:
    found = _MATCHER.match(text)
    if found is None:
        raise MatcherError(f"bad matcher format: {text}")
    name, op, raw = found.groups()
    quoted = raw.startswith('"')
    if quoted:
        raw = raw[1:]
    value: list[str] = []
    escaped = False
    for i, char in enumerate(raw):
        if escaped:
            escaped = False
            value.append({"n": "\n", '"': '"', "\\": "\\"}.get(char, "\\" + char))
            continue
        if char == "\\":
            if i < len(raw) - 1:
                escaped = True
                continue
            value.append("\\")
        elif char == '"':
            if not quoted or i < len(raw) - 1:
                raise MatcherError(f"matcher value contains unescaped double quote: {raw}")
            quoted = False
        else:
            value.append(char)
    if quoted:
        raise MatcherError(f"matcher value contains unescaped double quote: {raw}")
    return make_matcher(name, _OPS[op], "".join(value))


def make_matcher(name: str, op: MatchOp, value: str) -> LabelMatcher:
    """Return a matcher; MatcherError when a regex does not compile."""
    try:
        return LabelMatcher(name, op, value)
    except re.error as exc:
        raise MatcherError(f"invalid regular expression {value!r}: {exc}") from exc


def legacy_matchers(
    match: Mapping[str, str] | None, match_re: Mapping[str, str] | None
) -> Matchers:
    """Return the matchers of Alertmanager's deprecated ``match`` / ``match_re`` maps."""
    out = [make_matcher(k, MatchOp.EQUAL, v) for k, v in sorted((match or {}).items())]
    out += [make_matcher(k, MatchOp.REGEX, v) for k, v in sorted((match_re or {}).items())]
    return tuple(out)


def parse_matcher_lines(lines: Iterable[str]) -> Matchers:
    """Parse a ``matchers:`` list: each entry may hold several comma-separated matchers."""
    out: list[LabelMatcher] = []
    for line in lines:
        out.extend(parse_matchers(line))
    return tuple(out)


def matches(matchers: Sequence[LabelMatcher], labels: Labels) -> bool:
    """Whether every matcher accepts ``labels`` (an empty list accepts everything)."""
    return all(m.matches(labels.get(m.name)) for m in matchers)


def format_matchers(matchers: Sequence[LabelMatcher]) -> str:
    """Write matchers back in the syntax they are read in."""
    return "{" + ", ".join(str(m) for m in matchers) + "}"
