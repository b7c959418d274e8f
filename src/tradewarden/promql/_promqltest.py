"""The ``promqltest`` file format (Prometheus's ``promql/promqltest``): ``load`` blocks
with the expanding notation, ``clear``, and ``eval`` commands with their expectations."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tradewarden.series import METRIC_NAME, STALE_NAN, Labels

__all__ = [
    "Clear",
    "Command",
    "Eval",
    "Expectation",
    "Load",
    "Point",
    "parse_duration_ms",
    "parse_file",
    "parse_points",
    "parse_series",
]

_DURATION = re.compile(r"(\d+)(ms|y|w|d|h|m|s)")
_UNIT_MS = {
    "ms": 1,
    "s": 1000,
    "m": 60_000,
    "h": 3_600_000,
    "d": 86_400_000,
    "w": 604_800_000,
    "y": 31_536_000_000,
}
_PAT_LOAD = re.compile(r"^load(?:_(with_nhcb))?\s+(.+?)$")
_PAT_INSTANT = re.compile(
    r"^eval(?:_(fail|warn|ordered|info))?\s+instant\s+(?:at\s+(.+?))?\s+(.+)$"
)
_PAT_RANGE = re.compile(
    r"^eval(?:_(fail|warn|info))?\s+range\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+?)\s+(.+)$"
)
_PAT_EXPECT = re.compile(
    r"^expect\s+(ordered|fail|warn|no_warn|info|no_info)(?:\s+(regex|msg):(.+))?$"
)
_PAT_EXPECT_RANGE = re.compile(r"^expect range vector\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+)$")
_NUM = r"[+-]?(?:[Ii]nf|NaN|0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)"
_UNUM = r"(?:[Ii]nf|NaN|0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)"
_PAT_EXPAND = re.compile(rf"^({_NUM})(?:([+-])({_UNUM}))?x(\d+)$")
_PAT_NUMBER = re.compile(rf"^{_NUM}$")


def parse_duration_ms(text: str) -> int:
    """A Prometheus duration (``1h30m``, ``10s53ms``, ``0``) in milliseconds."""
    text = text.strip()
    if text == "0":
        return 0
    pos = 0
    total = 0
    for m in _DURATION.finditer(text):
        if m.start() != pos:
            break
        total += int(m.group(1)) * _UNIT_MS[m.group(2)]
        pos = m.end()
    if pos != len(text) or not text:
        raise ValueError(f"not a valid duration string: {text!r}")
    return total


def _parse_number(token: str) -> float:
    try:
        return float(int(token, 0))
    except ValueError:
        return float(token)


# A point: a float, STALE (the stale marker), or None (no sample, "_").
Point = float | None


def _expand(token: str) -> list[Point]:
    if token == "_":  # noqa: S105 - not a password
        return [None]
    if token.startswith("_x"):
        return [None] * int(token[2:])
    if token == "stale":  # noqa: S105 - not a password
        return [STALE_NAN]
    m = _PAT_EXPAND.match(token)
    if m:
        start = _parse_number(m.group(1))
        delta = 0.0 if m.group(2) is None else _parse_number(m.group(3))
        if m.group(2) == "-":
            delta = -delta
        n = int(m.group(4))
        return [start + delta * i for i in range(n + 1)]
    if _PAT_NUMBER.match(token):
        return [_parse_number(token)]
    raise ValueError(f"bad value {token!r}")


_QUOTES = {'"', "'", "`"}


def _read_quoted(text: str, i: int) -> tuple[str, int]:
    quote = text[i]
    i += 1
    out: list[str] = []
    while i < len(text):
        ch = text[i]
        if ch == quote:
            return "".join(out), i + 1
        if ch == "\\" and quote != "`":
            i += 1
            esc = text[i]
            mapping = {"n": "\n", "t": "\t", "\\": "\\", '"': '"', "'": "'"}
            if esc in mapping:
                out.append(mapping[esc])
            elif esc == "x":
                out.append(chr(int(text[i + 1 : i + 3], 16)))
                i += 2
            elif esc == "u":
                out.append(chr(int(text[i + 1 : i + 5], 16)))
                i += 4
            else:
                out.append(esc)
            i += 1
            continue
        out.append(ch)
        i += 1
    raise ValueError(f"unterminated string in {text!r}")


def _skip_space(text: str, i: int) -> int:
    while i < len(text) and text[i] in " \t":
        i += 1
    return i


def _read_ident(text: str, i: int) -> tuple[str, int]:
    j = i
    while j < len(text) and (text[j].isalnum() or text[j] in "_:."):
        j += 1
    return text[i:j], j


def parse_series(line: str) -> tuple[Labels, str]:
    """Split ``metric{a="b"} rest`` into the label set and the rest of the line."""
    i = _skip_space(line, 0)
    pairs: list[tuple[str, str]] = []
    name, i = _read_ident(line, i)
    if name:
        pairs.append((METRIC_NAME, name))
    if i < len(line) and line[i] == "{":
        i += 1
        while True:
            i = _skip_space(line, i)
            if i >= len(line):
                raise ValueError(f"unterminated label set in {line!r}")
            if line[i] == "}":
                i += 1
                break
            if line[i] == ",":
                i += 1
                continue
            if line[i] in _QUOTES:
                label, i = _read_quoted(line, i)
            else:
                label, i = _read_ident(line, i)
            i = _skip_space(line, i)
            if i < len(line) and line[i] == "=":
                i = _skip_space(line, i + 1)
                value, i = _read_quoted(line, i)
                pairs.append((label, value))
            else:  # a quoted metric name: {"metric.name", a="b"}
                pairs.append((METRIC_NAME, label))
    return Labels.from_pairs(pairs), line[i:].strip()


def parse_points(text: str) -> list[Point]:
    points: list[Point] = []
    for token in text.split():
        points.extend(_expand(token))
    return points


@dataclass
class Load:
    line: int
    step_ms: int
    series: list[tuple[Labels, list[Point]]]
    histograms: list[Labels]


@dataclass
class Clear:
    line: int


@dataclass
class Expectation:
    kind: str  # ordered, fail, warn, no_warn, info, no_info
    message: str | None = None
    regex: re.Pattern[str] | None = None

    def matches(self, text: str) -> bool:
        if self.message is not None:
            return self.message == text
        return self.regex is None or self.regex.search(text) is not None

    def __str__(self) -> str:
        return self.message if self.message is not None else str(self.regex and self.regex.pattern)


@dataclass
class Eval:
    line: int
    expr: str
    is_range: bool
    start: int
    end: int
    step: int
    fail: bool = False
    warn: bool = False
    info: bool = False
    ordered: bool = False
    fail_message: str | None = None
    fail_regex: re.Pattern[str] | None = None
    expects: list[Expectation] = field(default_factory=list)
    expect_scalar: float | None = None
    expected: dict[Labels, tuple[int, list[Point]]] = field(default_factory=dict)
    expected_string: str | None = None
    exclude_from_range: bool = False
    skip: str | None = None

    def of(self, kind: str) -> list[Expectation]:
        return [e for e in self.expects if e.kind == kind]

    @property
    def is_fail(self) -> bool:
        return self.fail or bool(self.of("fail"))

    @property
    def is_ordered(self) -> bool:
        return self.ordered or bool(self.of("ordered"))


Command = Load | Clear | Eval


def _lines(text: str) -> list[str]:
    out = []
    for raw in text.split("\n"):
        line = raw.strip()
        out.append("" if line.startswith("#") else line)
    return out


def parse_file(text: str) -> list[Command]:
    """Parse a test file into its commands."""
    lines = _lines(text)
    cmds: list[Command] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line:
            i += 1
            continue
        try:
            i, cmd = _parse_command(lines, i)
        except ValueError as exc:
            message = str(exc)
            if not message.startswith("line "):
                message = f"line {i + 1}: {message}"
            raise ValueError(message) from None
        cmds.append(cmd)
    return cmds


def _parse_command(lines: list[str], i: int) -> tuple[int, Command]:
    line = lines[i]
    word = line.split(None, 1)[0].lower()
    if word == "clear":
        return i + 1, Clear(i + 1)
    if word.startswith("load"):
        return _parse_load(lines, i)
    if word.startswith("eval"):
        return _parse_eval(lines, i)
    raise ValueError(f"invalid command {line!r}")


def _parse_load(lines: list[str], i: int) -> tuple[int, Load]:
    m = _PAT_LOAD.match(lines[i])
    if not m:
        raise ValueError(f"line {i + 1}: invalid load command")
    nhcb = m.group(1) == "with_nhcb"
    load = Load(i + 1, parse_duration_ms(m.group(2)), [], [])
    i += 1
    series: dict[Labels, list[Point]] = {}  # a later line for the same series replaces it
    while i < len(lines) and lines[i]:
        labels, rest = parse_series(lines[i])
        if "{{" in rest:
            load.histograms.append(labels)
        else:
            series[labels] = parse_points(rest)
            if nhcb:
                base = _nhcb_base(labels)
                if base is not None:
                    load.histograms.append(base)
        i += 1
    load.series = list(series.items())
    return i, load


def _nhcb_base(labels: Labels) -> Labels | None:
    name = labels.metric_name
    for suffix in ("_bucket", "_count", "_sum"):
        if name.endswith(suffix):
            return labels.set(METRIC_NAME, name[: -len(suffix)]).without(("le",))
    return None


def _parse_eval(lines: list[str], i: int) -> tuple[int, Eval]:  # noqa: PLR0912, PLR0915
    header = lines[i]
    inst = _PAT_INSTANT.match(header)
    rng = None if inst else _PAT_RANGE.match(header)
    if inst:
        mod, expr = inst.group(1), inst.group(3)
        t = parse_duration_ms(inst.group(2) or "0")
        ev = Eval(i + 1, expr, False, t, t, 0)
    elif rng:
        mod, expr = rng.group(1), rng.group(5)
        ev = Eval(
            i + 1,
            expr,
            True,
            parse_duration_ms(rng.group(2)),
            parse_duration_ms(rng.group(3)),
            parse_duration_ms(rng.group(4)),
        )
    else:
        raise ValueError(f"line {i + 1}: invalid eval command")
    ev.fail = mod == "fail"
    ev.warn = mod == "warn"
    ev.info = mod == "info"
    ev.ordered = mod == "ordered"
    j = 0
    while i + 1 < len(lines) and lines[i + 1]:
        i += 1
        j += 1
        line = lines[i]
        if ev.fail and line.startswith("expected_fail_message"):
            ev.fail_message = line[len("expected_fail_message") :].strip()
            break
        if ev.fail and line.startswith("expected_fail_regexp"):
            ev.fail_regex = re.compile(line[len("expected_fail_regexp") :].strip())
            break
        if line.startswith("expect range vector"):
            m = _PAT_EXPECT_RANGE.match(line)
            if not m:
                raise ValueError(f"line {i + 1}: invalid range vector definition")
            ev.start = parse_duration_ms(m.group(1))
            ev.end = parse_duration_ms(m.group(2))
            ev.step = parse_duration_ms(m.group(3))
            ev.exclude_from_range = True
            continue
        if line.startswith("expect string"):
            ev.expected_string = _unquote_go(line[len("expect string") :].strip())
            ev.exclude_from_range = True
            continue
        if line.split(" ")[0] == "expect":
            m = _PAT_EXPECT.match(line)
            if not m:
                raise ValueError(f"line {i + 1}: invalid expect statement")
            exp = Expectation(m.group(1))
            if m.group(2) == "msg":
                exp.message = m.group(3).strip()
            elif m.group(2) == "regex":
                exp.regex = re.compile(m.group(3).strip())
            ev.expects.append(exp)
            j -= 1
            continue
        if "{{" in line:
            ev.skip = "expects native histograms"
            continue
        try:
            ev.expect_scalar = _parse_number(line)
            break
        except ValueError:
            pass
        labels, rest = parse_series(line)
        ev.expected[labels] = (j, parse_points(rest))
    return i + 1, ev


def _unquote_go(text: str) -> str:
    if text.startswith("`") and text.endswith("`"):
        return text[1:-1]
    value, _ = _read_quoted(text, 0)
    return value
