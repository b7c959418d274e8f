"""Where calls and their arguments start in a query's text.

Prometheus ends an annotation with the position of the expression it is about
(``... (1:25)``), and the test files match those texts; ``promql_parser`` keeps no
positions, so this scanner finds them: every ``name(`` (and ``name by (...) (``) outside
strings, in textual order, with the offset of each top-level argument. The k-th call node
of a name in pre-order is the k-th such occurrence in the text.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

__all__ = ["CallSite", "format_position", "scan_calls"]

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_:]*")
_CLAUSE = re.compile(r"\s*(?:by|without)\s*\([^)]*\)\s*", re.IGNORECASE)
_OPEN = {"(": ")", "[": "]", "{": "}"}


@dataclass(frozen=True, slots=True)
class CallSite:
    """One call in the text: where its name starts and where each argument starts."""

    start: int
    args: tuple[int, ...]


def format_position(text: str, offset: int) -> str:
    """``line:column`` (both 1-based), as Prometheus's ``StartPosInput``."""
    line = text.count("\n", 0, offset) + 1
    col = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return f"{line}:{col}"


def _skip_string(text: str, i: int) -> int:
    quote = text[i]
    i += 1
    while i < len(text):
        if text[i] == "\\" and quote != "`":
            i += 2
            continue
        if text[i] == quote:
            return i + 1
        i += 1
    return i


def _args(text: str, open_paren: int) -> tuple[int, ...]:
    starts: list[int] = []
    depth = 0
    i = open_paren + 1
    expect_arg = True
    while i < len(text):
        c = text[i]
        if expect_arg and not c.isspace():
            if c == ")" and depth == 0:
                break
            starts.append(i)
            expect_arg = False
        if c in "\"'`":
            i = _skip_string(text, i)
            continue
        if c in _OPEN:
            depth += 1
        elif c in ")]}":
            if depth == 0:
                break
            depth -= 1
        elif c == "," and depth == 0:
            expect_arg = True
        i += 1
    return tuple(starts)


def scan_calls(text: str) -> dict[str, list[CallSite]]:
    """Every ``name(`` in the text by name, in textual order."""
    sites: dict[str, list[CallSite]] = defaultdict(list)
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c in "\"'`":
            i = _skip_string(text, i)
            continue
        if c == "{":  # label matchers: names there are never calls
            j = i + 1
            while j < n and text[j] != "}":
                j = _skip_string(text, j) if text[j] in "\"'`" else j + 1
            i = j + 1
            continue
        m = _IDENT.match(text, i)
        if m is None or (i > 0 and (text[i - 1].isalnum() or text[i - 1] in "_:")):
            i += 1
            continue
        j = m.end()
        clause = _CLAUSE.match(text, j)
        k = clause.end() if clause else j
        while k < n and text[k].isspace():
            k += 1
        if k < n and text[k] == "(":
            sites[m.group(0).lower()].append(CallSite(i, _args(text, k)))
        i = j
    return dict(sites)
