"""What a runbook may send: read-only SQL and allow-listed Redis read commands.

Checked when a runbook loads (a write is a load error naming the step) and again, for
Redis, on the rendered command right before it is sent. The SQL check is a first line
only: the step also runs in a ``READ ONLY`` transaction, so PostgreSQL itself refuses any
write this check would miss.

The SQL tokenizer is PostgreSQL's lexical grammar, written here rather than taken from
``sqlparse``: that lexer reads a backslash as an escape in a plain ``'...'`` string, which
PostgreSQL does not (``standard_conforming_strings``, on since 9.1, and set on by the step
itself), so ``SELECT '\\', pg_terminate_backend(1) --'`` would look like one harmless
string to it. Nested block comments, ``E'...'`` strings, dollar quoting and quoted
identifiers are read as the server reads them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = [
    "ReadOnlyError",
    "Token",
    "bind_named_params",
    "check_redis_command",
    "check_sql",
    "redis_command_name",
    "sql_param_names",
    "tokenize_sql",
]

# The most elements one range read may return (LRANGE, ZRANGE, XPENDING, SLOWLOG GET).
MAX_RANGE = 1000


class ReadOnlyError(ValueError):
    """A statement or command that may write, or is not on the allow-list."""


@dataclass(frozen=True, slots=True)
class Token:
    """One lexical token: ``word``, ``qident``, ``string``, ``comment``, ``space``,
    ``param`` (``:name``), ``number`` or ``op``."""

    kind: str
    text: str


_LEX = re.compile(
    r"""
     (?P<space>\s+)
    |(?P<comment>--[^\n]*)
    |(?P<block>/\*)
    |(?P<string>[eE]'(?:[^'\\]|\\.|'')*'|'(?:[^']|'')*')
    |(?P<dollar>\$(?:[A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$)
    |(?P<qident>"(?:[^"]|"")*")
    |(?P<number>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|\$\d+)
    |(?P<cast>::)
    |(?P<param>:[A-Za-z_][A-Za-z0-9_]*)
    |(?P<word>[A-Za-z_\u0080-\uffff][A-Za-z0-9_$\u0080-\uffff]*)
    |(?P<op>.)
    """,
    re.VERBOSE | re.DOTALL,
)


def tokenize_sql(sql: str) -> list[Token]:
    """Split ``sql`` as PostgreSQL's lexer does; raise ReadOnlyError on an unterminated
    string, identifier or comment."""
    tokens: list[Token] = []
    at = 0
    while at < len(sql):
        match = _LEX.match(sql, at)
        assert match is not None  # noqa: S101 - ``op`` matches any character
        kind = match.lastgroup or "op"
        end = match.end()
        if kind == "block":
            end = _block_comment_end(sql, at)
            kind = "comment"
        elif kind == "dollar":
            close = sql.find(match.group(), end)
            if close < 0:
                raise ReadOnlyError("unterminated dollar-quoted string")
            end = close + len(match.group())
            kind = "string"
        elif kind == "op" and match.group() in {"'", '"'}:
            raise ReadOnlyError("unterminated quoted string or identifier")
        elif kind == "cast":
            kind = "op"
        tokens.append(Token(kind, sql[at:end]))
        at = end
    return tokens


def _block_comment_end(sql: str, start: int) -> int:
    depth, at = 0, start
    while at < len(sql):
        pair = sql[at : at + 2]
        if pair == "/*":
            depth, at = depth + 1, at + 2
        elif pair == "*/":
            depth, at = depth - 1, at + 2
            if depth == 0:
                return at
        else:
            at += 1
    raise ReadOnlyError("unterminated /* comment")


_FIRST_KEYWORDS = frozenset({"SELECT", "WITH", "SHOW", "EXPLAIN", "VALUES", "TABLE"})
_FORBIDDEN_KEYWORDS = frozenset(
    {
        "INSERT", "UPDATE", "DELETE", "MERGE", "TRUNCATE",
        "DROP", "ALTER", "CREATE", "GRANT", "REVOKE", "COMMENT", "REASSIGN",
        "COPY", "CALL", "DO", "LOCK", "VACUUM", "ANALYZE", "ANALYSE", "CLUSTER", "REINDEX",
        "REFRESH", "CHECKPOINT", "IMPORT", "LOAD", "INTO",
        "SET", "RESET", "DISCARD",
        "BEGIN", "COMMIT", "ROLLBACK", "ABORT", "SAVEPOINT", "RELEASE",
        "PREPARE", "EXECUTE", "DEALLOCATE",
        "LISTEN", "UNLISTEN", "NOTIFY",
    }
)  # fmt: skip
# Functions that write, signal other sessions, take locks, read the server's files or run
# SQL text of their own (which would slip past this check).
_FORBIDDEN_FUNCTIONS = frozenset(
    {
        "nextval", "setval", "set_config", "pg_terminate_backend", "pg_cancel_backend",
        "pg_reload_conf", "pg_rotate_logfile", "pg_switch_wal", "pg_promote",
        "pg_notify", "pg_logical_emit_message", "pg_log_backend_memory_contexts",
        "pg_drop_replication_slot", "pg_import_system_collations",
        "pg_read_file", "pg_read_binary_file", "pg_ls_dir", "pg_stat_file",
        "txid_current", "pg_current_xact_id",
        "query_to_xml", "query_to_xmlschema", "query_to_xml_and_xmlschema", "cursor_to_xml",
        "cursor_to_xmlschema", "xml_is_well_formed_document",
    }
)  # fmt: skip
_FORBIDDEN_PREFIXES = (
    "lo_", "dblink", "pg_advisory", "pg_try_advisory", "pg_create_", "pg_replication_",
    "pg_copy_", "pg_stat_reset", "pg_file_", "pg_wal_replay_", "pg_backup_", "pg_start_backup",
    "pg_stop_backup",
)  # fmt: skip
_LOCKING_AFTER_FOR = frozenset({"UPDATE", "SHARE", "NO", "KEY"})


def _unquoted(token: Token) -> str:
    if token.kind == "qident":
        return token.text[1:-1].replace('""', '"')
    return token.text


def check_sql(sql: str) -> None:
    """Raise ReadOnlyError unless ``sql`` is one statement that only reads."""
    tokens = tokenize_sql(sql)
    code = [t for t in tokens if t.kind not in {"space", "comment"}]
    while code and code[-1].text == ";":
        code.pop()
    if not code:
        raise ReadOnlyError("the query is empty")
    if any(t.text == ";" for t in code):
        raise ReadOnlyError("exactly one statement is allowed (found a ';' between statements)")
    first = next((t for t in code if t.text != "("), None)
    if first is None or first.kind != "word" or first.text.upper() not in _FIRST_KEYWORDS:
        found = first.text if first is not None else "nothing"
        raise ReadOnlyError(
            f"a query must start with SELECT, WITH, SHOW, EXPLAIN, VALUES or TABLE, not {found}"
        )
    for index, token in enumerate(code):
        following = code[index + 1] if index + 1 < len(code) else None
        if token.kind == "word":
            upper = token.text.upper()
            if upper in _FORBIDDEN_KEYWORDS:
                raise ReadOnlyError(f"{upper} is not allowed in a read-only query")
            if (
                upper == "FOR"
                and following is not None
                and following.kind == "word"
                and following.text.upper() in _LOCKING_AFTER_FOR
            ):
                raise ReadOnlyError("row locks (FOR UPDATE / FOR SHARE) are not allowed")
        if token.kind in {"word", "qident"} and following is not None and following.text == "(":
            name = _unquoted(token).lower()
            if name in _FORBIDDEN_FUNCTIONS or name.startswith(_FORBIDDEN_PREFIXES):
                raise ReadOnlyError(f"the function {name}() is not allowed in a read-only query")


def sql_param_names(sql: str) -> list[str]:
    """Return the ``:name`` bind parameters of ``sql``, in order of first use."""
    names: list[str] = []
    for token in tokenize_sql(sql):
        if token.kind == "param" and token.text[1:] not in names:
            names.append(token.text[1:])
    return names


def bind_named_params(sql: str) -> tuple[str, list[str]]:
    """Rewrite ``:name`` parameters as ``$1``, ``$2``...; return the SQL and the names by
    position. Text inside strings, identifiers and comments is left as it is."""
    names = sql_param_names(sql)
    out = [
        f"${names.index(token.text[1:]) + 1}" if token.kind == "param" else token.text
        for token in tokenize_sql(sql)
    ]
    return "".join(out), names


# -- Redis ---------------------------------------------------------------------------------

_ArgCheck = Callable[[Sequence[str], bool], None]


def _arity(low: int, high: int | None = None) -> Callable[[Sequence[str]], None]:
    def check(args: Sequence[str]) -> None:
        if len(args) < low or (high is not None and len(args) > high):
            wanted = f"{low}" if high == low else f"{low}+" if high is None else f"{low}-{high}"
            raise ReadOnlyError(f"takes {wanted} argument(s), got {len(args)}")

    return check


def _int(value: str, what: str, rendered: bool) -> int | None:
    if not rendered and "{" in value:
        return None  # a template: checked again once rendered
    try:
        return int(value)
    except ValueError:
        raise ReadOnlyError(f"{what} must be an integer, got {value!r}") from None


def _bounded(start: str, stop: str, rendered: bool) -> None:
    low, high = _int(start, "start", rendered), _int(stop, "stop", rendered)
    if low is None or high is None:
        return
    if (low < 0) != (high < 0) or high - low + 1 > MAX_RANGE or high < low:
        raise ReadOnlyError(
            f"range {low}..{high} is not bounded: give start and stop of the same sign, "
            f"at most {MAX_RANGE} elements apart (0 -1 reads the whole key)"
        )


def _count(value: str, rendered: bool, limit: int = MAX_RANGE) -> None:
    count = _int(value, "count", rendered)
    if count is not None and not 0 < count <= limit:
        raise ReadOnlyError(f"count must be between 1 and {limit}, got {count}")


def _lrange(args: Sequence[str], rendered: bool) -> None:
    _arity(3, 3)(args)
    _bounded(args[1], args[2], rendered)


def _zrange(args: Sequence[str], rendered: bool) -> None:
    _arity(3, 4)(args)
    if len(args) == 4 and args[3].upper() != "WITHSCORES":
        raise ReadOnlyError("only the index form with an optional WITHSCORES is allowed")
    _bounded(args[1], args[2], rendered)


def _xpending(args: Sequence[str], rendered: bool) -> None:
    if len(args) == 2:
        return
    _arity(5, 6)(args)
    _count(args[4], rendered)


def _memory_usage(args: Sequence[str], rendered: bool) -> None:
    if len(args) == 3 and args[1].upper() == "SAMPLES":
        _count(args[2], rendered, 1000)
        return
    _arity(1, 1)(args)


def _slowlog_get(args: Sequence[str], rendered: bool) -> None:
    _arity(0, 1)(args)
    if args:
        _count(args[0], rendered, 128)


def _plain(low: int, high: int | None = None) -> _ArgCheck:
    arity = _arity(low, high)
    return lambda args, _rendered: arity(args)


# Command (and subcommand) -> the check of its arguments. Never KEYS (it blocks the
# server while it walks every key), SCAN (one page is a meaningless sample and a loop over
# it is a KEYS), CONFIG, EVAL, MONITOR, DEBUG or anything that writes.
_ALLOWED: dict[str, _ArgCheck] = {
    "PING": _plain(0, 1),
    "INFO": _plain(0, None),
    "DBSIZE": _plain(0, 0),
    "LLEN": _plain(1, 1),
    "LRANGE": _lrange,
    "ZCARD": _plain(1, 1),
    "ZCOUNT": _plain(3, 3),
    "ZRANGE": _zrange,
    "ZREVRANGE": _zrange,
    "SCARD": _plain(1, 1),
    "HLEN": _plain(1, 1),
    "HGET": _plain(2, 2),
    "HMGET": _plain(2, None),
    "HEXISTS": _plain(2, 2),
    "XLEN": _plain(1, 1),
    "XINFO STREAM": _plain(1, 1),
    "XINFO GROUPS": _plain(1, 1),
    "XINFO CONSUMERS": _plain(2, 2),
    "XPENDING": _xpending,
    "TYPE": _plain(1, 1),
    "TTL": _plain(1, 1),
    "PTTL": _plain(1, 1),
    "EXISTS": _plain(1, None),
    "GET": _plain(1, 1),
    "STRLEN": _plain(1, 1),
    "MEMORY USAGE": _memory_usage,
    "SLOWLOG GET": _slowlog_get,
    "SLOWLOG LEN": _plain(0, 0),
    "LATENCY LATEST": _plain(0, 0),
    "ROLE": _plain(0, 0),
    "CLIENT LIST": _plain(0, None),
    "CLIENT INFO": _plain(0, 0),
    "CLUSTER INFO": _plain(0, 0),
}
_WITH_SUBCOMMAND = frozenset(name.split()[0] for name in _ALLOWED if " " in name)


def redis_command_name(command: Sequence[str]) -> tuple[str, int]:
    """Return the command's allow-list name (``SLOWLOG GET``) and how many words it takes."""
    if not command:
        raise ReadOnlyError("the command is empty")
    head = command[0].upper()
    if head in _WITH_SUBCOMMAND and len(command) > 1:
        return f"{head} {command[1].upper()}", 2
    return head, 1


def check_redis_command(command: Sequence[str], *, rendered: bool = True) -> None:
    """Raise ReadOnlyError unless ``command`` is an allow-listed read with sane arguments.

    ``rendered=False`` (at load) lets templated arguments through; their values are
    checked when the rendered command is checked again, before it is sent.
    """
    name, words = redis_command_name(command)
    for word in command[:words]:
        if "{" in word or "%" in word:
            raise ReadOnlyError("the command name is never templated")
    check = _ALLOWED.get(name)
    if check is None:
        raise ReadOnlyError(
            f"{name} is not an allowed Redis read command (allowed: {', '.join(sorted(_ALLOWED))})"
        )
    try:
        check(command[words:], rendered)
    except ReadOnlyError as exc:
        raise ReadOnlyError(f"{name}: {exc}") from None
