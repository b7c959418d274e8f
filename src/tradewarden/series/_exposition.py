"""Parse the Prometheus text format (0.0.4) and OpenMetrics 1.0 into samples.

    parse_exposition(text, openmetrics=False, cache=None, relabel=None) -> ParsedScrape

Written here rather than taken from ``prometheus_client.parser``: its errors do not name
the line (``could not convert string to float: 'is'``), it accepts garbage such as
``a 1 2 3`` as a sample with a timestamp, and it is slow. On a 10,000-line exposition (best
of 7, this machine): prometheus_client 67,000 samples/s (47,000 once its dicts are turned
into label sets), this parser 136,000 on a first scrape and 578,000 on later ones. The
per-target :class:`ScrapeCache` maps the text of a series (everything before its value) to
the final label set, as Prometheus's scrape cache does, so a target that exposes the same
series every scrape costs one dict lookup and one float conversion per line.

Counters, gauges, histograms and summaries need no special handling: every sample line
(``_bucket``, ``_sum``, ``_count``, ``_total``, ``_created``, quantiles) is a series, as in
Prometheus's storage. OpenMetrics exemplars are skipped; its timestamps are seconds.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from tradewarden.series._labels import METRIC_NAME, Labels

__all__ = ["ExpositionError", "ParsedScrape", "ScrapeCache", "parse_exposition"]

_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL = re.compile(r'[ \t]*([a-zA-Z_][a-zA-Z0-9_]*)[ \t]*=[ \t]*"((?:[^"\\\n]|\\.)*)"[ \t]*')
_PAIR = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)[ \t]*=[ \t]*"((?:[^"\\\n]|\\.)*)"')
# A whole well-formed label block in one match (the scanner explains a bad one).
_BLOCK = re.compile(
    r'\{[ \t]*(?:[a-zA-Z_][a-zA-Z0-9_]*[ \t]*=[ \t]*"(?:[^"\\\n]|\\.)*"[ \t]*'
    r"(?:,[ \t]*|(?=\})))*\}[ \t]*"
)
_ESCAPE = re.compile(r"\\(.)")
_TEXT_TYPES = frozenset({"counter", "gauge", "histogram", "summary", "untyped"})
_OM_TYPES = frozenset(
    {"counter", "gauge", "histogram", "gaugehistogram", "summary", "info", "stateset", "unknown"}
)


class ExpositionError(ValueError):
    """The body is not a valid exposition; ``line`` is 1-based (0: the body as a whole)."""

    def __init__(self, message: str, line: int = 0, text: str = "") -> None:
        self.line = line
        shown = text if len(text) <= 80 else text[:77] + "..."
        where = f"line {line}: " if line else ""
        suffix = f": {shown!r}" if text else ""
        super().__init__(f"{where}{message}{suffix}")


@dataclass
class ScrapeCache:
    """Series text → final labels, kept between scrapes of one target."""

    entries: dict[str, Labels] = field(default_factory=dict)

    def trim(self, live: int) -> None:
        """Forget everything when the cache holds far more than the last scrape used."""
        if len(self.entries) > 2 * live + 1000:
            self.entries.clear()


@dataclass(frozen=True, slots=True)
class ParsedScrape:
    """A scrape's samples (timestamp ``None``: the scrape's own time) and metric types."""

    samples: list[tuple[Labels, float, int | None]]
    types: dict[str, str]


def parse_exposition(
    text: str,
    *,
    openmetrics: bool = False,
    cache: ScrapeCache | None = None,
    relabel: Callable[[Labels], Labels] | None = None,
) -> ParsedScrape:
    """Parse ``text``; raise :class:`ExpositionError` naming the first bad line.

    ``relabel`` turns the exposition's labels into the stored ones (target labels,
    ``honor_labels``); duplicates are judged after it, as Prometheus does.
    """
    entries = cache.entries if cache is not None else {}
    samples: list[tuple[Labels, float, int | None]] = []
    types: dict[str, str] = {}
    seen: set[Labels] = set()
    lines = text.split("\n")
    eof = False
    number = 0
    for number, raw in enumerate(lines, 1):
        line = raw.rstrip("\r") if not openmetrics else raw
        if eof:
            if line or number != len(lines):
                raise ExpositionError("content after # EOF", number, line)
            continue
        if not line or line.isspace():
            if openmetrics and number != len(lines):
                raise ExpositionError("empty line", number)
            continue
        if line[0] == "#":
            if openmetrics and line == "# EOF":
                eof = True
                continue
            _comment(line, number, openmetrics, types)
            continue
        labels, rest = _series(line, number, openmetrics, entries, relabel)
        value, timestamp = _value(rest, line, number, openmetrics)
        if labels in seen:
            raise ExpositionError("duplicate series", number, line)
        seen.add(labels)
        samples.append((labels, value, timestamp))
    if openmetrics and not eof:
        raise ExpositionError("missing # EOF at the end", number)
    if cache is not None:
        cache.trim(len(samples))
    return ParsedScrape(samples, types)


def _comment(line: str, number: int, openmetrics: bool, types: dict[str, str]) -> None:
    parts = line.split(None, 3)
    if len(parts) < 2 or parts[1] not in {"TYPE", "HELP", "UNIT"}:
        if openmetrics:
            raise ExpositionError("unknown comment (OpenMetrics allows TYPE, HELP, UNIT)", number)
        return  # the text format allows any comment
    if len(parts) < 3 or not _NAME.fullmatch(parts[2]):
        raise ExpositionError(f"{parts[1]} without a valid metric name", number, line)
    if parts[1] == "TYPE":
        kind = parts[3].strip() if len(parts) > 3 else ""
        allowed = _OM_TYPES if openmetrics else _TEXT_TYPES
        if kind not in allowed:
            raise ExpositionError(f"unknown metric type {kind!r}", number, line)
        types[parts[2]] = kind


def _series(
    line: str,
    number: int,
    openmetrics: bool,
    entries: dict[str, Labels],
    relabel: Callable[[Labels], Labels] | None,
) -> tuple[Labels, str]:
    brace = line.find("{")
    if brace < 0:
        cut = _first_space(line)
        if cut < 0:
            problem = "expected a value after the series" if _NAME.fullmatch(line) else None
            raise ExpositionError(problem or "invalid metric name", number, line)
        key, rest = line[:cut], line[cut:]
    elif openmetrics and "# {" in line:
        # An exemplar has braces of its own: find the end of the series by scanning.
        _, end = _scan_labels(line, brace, number)
        key, rest = line[:end], line[end:]
    else:
        end = line.rfind("}") + 1
        key, rest = line[:end], line[end:]
    labels = entries.get(key)
    if labels is None:
        labels = _parse_series(key, line, number)
        if relabel is not None:
            labels = relabel(labels)
        entries[key] = labels
    return labels, rest


def _first_space(line: str) -> int:
    space, tab = line.find(" "), line.find("\t")
    if tab >= 0 and (space < 0 or tab < space):
        return tab
    return space


def _parse_series(key: str, line: str, number: int) -> Labels:
    match = _NAME.match(key)
    if match is None:
        raise ExpositionError("invalid metric name", number, line)
    name = match.group()
    pos = match.end()
    while pos < len(key) and key[pos] in " \t":
        pos += 1
    pairs: list[tuple[str, str]] = [(METRIC_NAME, name)]
    if pos < len(key):
        if key[pos] != "{":
            raise ExpositionError("expected a value after the series", number, line)
        block = _BLOCK.match(key, pos)
        if block is not None and block.end() == len(key):
            found = [
                (label, _ESCAPE.sub(_unescape, value) if "\\" in value else value)
                for label, value in _PAIR.findall(key, pos)
            ]
        else:
            found, end = _scan_labels(key, pos, number)
            if key[end:].strip():
                raise ExpositionError("unexpected text after the labels", number, line)
        names = {label for label, _ in found}
        if len(names) != len(found):
            raise ExpositionError("a label name appears twice", number, line)
        pairs.extend(found)
    return Labels.from_pairs(pairs)


def _scan_labels(line: str, brace: int, number: int) -> tuple[list[tuple[str, str]], int]:
    """Read ``{a="b",...}`` starting at ``brace``; return the pairs and the end offset."""
    pos = brace + 1
    found: list[tuple[str, str]] = []
    while True:
        while pos < len(line) and line[pos] in " \t":
            pos += 1
        if pos < len(line) and line[pos] == "}":
            return found, pos + 1
        match = _LABEL.match(line, pos)
        if match is None:
            raise ExpositionError("invalid label", number, line)
        value = match.group(2)
        if "\\" in value:
            value = _ESCAPE.sub(_unescape, value)
        found.append((match.group(1), value))
        pos = match.end()
        if pos < len(line) and line[pos] == ",":
            pos += 1
        elif pos >= len(line) or line[pos] != "}":
            raise ExpositionError("expected ',' or '}' after a label", number, line)


def _unescape(match: re.Match[str]) -> str:
    char = match.group(1)
    if char == "n":
        return "\n"
    if char in {"\\", '"'}:
        return char
    return match.group()  # Prometheus keeps an unknown escape as written


def _value(rest: str, line: str, number: int, openmetrics: bool) -> tuple[float, int | None]:
    if openmetrics:
        hash_at = rest.find(" # ")
        if hash_at >= 0:
            rest = rest[:hash_at]
    parts = rest.split()
    if not parts or len(parts) > 2:
        raise ExpositionError("expected a value and an optional timestamp", number, line)
    value = _float(parts[0], line, number, "value")
    if len(parts) == 1:
        return value, None
    stamp = parts[1]
    if openmetrics:
        seconds = _float(stamp, line, number, "timestamp")
        if not math.isfinite(seconds):
            raise ExpositionError("invalid timestamp", number, line)
        return value, round(seconds * 1000)
    if "_" in stamp:
        raise ExpositionError("invalid timestamp", number, line)
    try:
        return value, int(stamp)
    except ValueError:
        raise ExpositionError("invalid timestamp", number, line) from None


def _float(text: str, line: str, number: int, what: str) -> float:
    # float() also takes "1_000", which Prometheus (Go's ParseFloat) refuses.
    if "_" in text:
        raise ExpositionError(f"invalid {what}", number, line)
    try:
        return float(text)
    except ValueError:
        raise ExpositionError(f"invalid {what}", number, line) from None
