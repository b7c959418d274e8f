"""The load-time read-only checks: SQL read as PostgreSQL's lexer reads it, and the Redis
allow-list with bounded ranges."""

from __future__ import annotations

import pytest

from tradewarden.runbooks import ReadOnlyError, check_redis_command, check_sql
from tradewarden.runbooks._readonly import bind_named_params, sql_param_names, tokenize_sql

READS = [
    "SELECT state, count(*) FROM pg_stat_activity GROUP BY state",
    "select 1;",
    "WITH t AS (SELECT 1 AS x) SELECT x FROM t",
    "SHOW max_connections",
    "EXPLAIN SELECT * FROM pg_class",
    "VALUES (1), (2)",
    "TABLE pg_stat_database",
    "(SELECT 1) UNION (SELECT 2)",
    "SELECT 'DELETE FROM jobs; DROP TABLE x' AS text",
    "SELECT $$ INSERT INTO t $$ AS body, $tag$ nextval('s') $tag$",
    'SELECT "update", "Delete" FROM (SELECT 1 AS "update", 2 AS "Delete") t',
    "SELECT 1 -- DROP TABLE jobs\n",
    "SELECT /* outer /* DELETE */ still a comment: DROP */ 1",
    "SELECT E'it\\'s; DELETE' AS quoted",
    "SELECT now() - query_start AS age FROM pg_stat_activity WHERE state <> 'idle'",
    "SELECT CASE WHEN 1 = 1 THEN 'a' ELSE 'b' END",
    "SELECT x::int FROM (VALUES ('1')) v(x)",
    "SELECT pg_sleep(0.1)",
]


@pytest.mark.parametrize("query", READS)
def test_reads_pass(query: str) -> None:
    check_sql(query)


WRITES = [
    ("INSERT INTO jobs VALUES (1)", "must start with"),
    ("UPDATE jobs SET x = 1", "must start with"),
    ("WITH gone AS (DELETE FROM jobs RETURNING *) SELECT count(*) FROM gone", "DELETE"),
    ("WITH x AS (INSERT INTO t VALUES (1) RETURNING 1) SELECT 1", "INSERT"),
    ("SELECT * INTO new_table FROM jobs", "INTO"),
    ("SELECT 1; SELECT 2", "exactly one statement"),
    ("SELECT 1; COMMIT", "exactly one statement"),
    ("EXPLAIN (ANALYZE, BUFFERS) SELECT 1", "ANALYZE"),
    ("EXPLAIN ANALYSE SELECT 1", "ANALYSE"),
    ("SELECT nextval('jobs_id_seq')", "nextval"),
    ("SELECT pg_catalog.setval('s', 1)", "setval"),
    ("SELECT \"nextval\"('s')", "nextval"),
    ("SELECT set_config('transaction_read_only', 'off', true)", "set_config"),
    ("SELECT pg_cancel_backend(1)", "pg_cancel_backend"),
    ("SELECT pg_advisory_lock(1)", "pg_advisory_lock"),
    ("SELECT lo_import('/etc/passwd')", "lo_import"),
    ("SELECT * FROM dblink('host=x', 'DELETE FROM t') AS t(x int)", "dblink"),
    ("SELECT query_to_xml('SELECT pg_terminate_backend(1)', true, true, '')", "query_to_xml"),
    ("SELECT * FROM jobs FOR SHARE", "row locks"),
    ("SHOW x; SET x = 1", "exactly one statement"),
    ("DO $$ BEGIN PERFORM 1; END $$", "must start with"),
    ("", "empty"),
    ("-- only a comment", "empty"),
    # PostgreSQL reads '\' as a whole string (standard_conforming_strings): the call after
    # it is code, not the inside of a string, and must be seen.
    ("SELECT '\\', pg_terminate_backend(1) --'", "pg_terminate_backend"),
    ("SELECT 'unterminated", "unterminated"),
    ("SELECT $x$ never closed", "unterminated"),
    ("SELECT 1 /* never closed", "unterminated"),
]


@pytest.mark.parametrize(("query", "reason"), WRITES)
def test_writes_and_tricks_are_refused(query: str, reason: str) -> None:
    with pytest.raises(ReadOnlyError, match=reason):
        check_sql(query)


def test_the_tokenizer_keeps_strings_comments_and_identifiers_whole() -> None:
    tokens = tokenize_sql("SELECT 'a''b', \"x\"\"y\", $q$ $ $q$ /* c /* d */ e */ :p::text")
    kinds = [(t.kind, t.text) for t in tokens if t.kind != "space"]
    assert kinds == [
        ("word", "SELECT"),
        ("string", "'a''b'"),
        ("op", ","),
        ("qident", '"x""y"'),
        ("op", ","),
        ("string", "$q$ $ $q$"),
        ("comment", "/* c /* d */ e */"),
        ("param", ":p"),
        ("op", "::"),
        ("word", "text"),
    ]


def test_named_parameters_become_positional_outside_strings() -> None:
    sql, names = bind_named_params(
        "SELECT ':queue', x::int FROM t WHERE q = :queue AND s = :state OR q2 = :queue -- :no"
    )
    assert sql == "SELECT ':queue', x::int FROM t WHERE q = $1 AND s = $2 OR q2 = $1 -- :no"
    assert names == ["queue", "state"]
    assert sql_param_names("SELECT 1") == []


ALLOWED = [
    ["PING"],
    ["INFO"],
    ["info", "memory"],
    ["LLEN", "bull:orders:wait"],
    ["LRANGE", "bull:orders:wait", "0", "99"],
    ["LRANGE", "bull:orders:wait", "-10", "-1"],
    ["ZRANGE", "bull:orders:delayed", "0", "9", "WITHSCORES"],
    ["ZREVRANGE", "k", "0", "9"],
    ["ZCARD", "k"],
    ["ZCOUNT", "k", "-inf", "+inf"],
    ["HGET", "k", "f"],
    ["HMGET", "k", "a", "b"],
    ["XINFO", "GROUPS", "stream"],
    ["XPENDING", "stream", "group"],
    ["XPENDING", "stream", "group", "-", "+", "10"],
    ["MEMORY", "USAGE", "k"],
    ["SLOWLOG", "GET", "10"],
    ["SLOWLOG", "LEN"],
    ["CLIENT", "LIST"],
    ["CLUSTER", "INFO"],
    ["LATENCY", "LATEST"],
    ["ROLE"],
    ["EXISTS", "a", "b"],
    ["LLEN", "bull:{{ labels.queue }}:wait"],
    ["LRANGE", "k", "0", "{{ labels.n }}"],
]


@pytest.mark.parametrize("command", ALLOWED)
def test_allow_listed_reads_pass(command: list[str]) -> None:
    check_redis_command(command, rendered=False)


REFUSED = [
    (["SET", "k", "v"], "SET is not an allowed"),
    (["DEL", "k"], "DEL is not"),
    (["KEYS", "*"], "KEYS is not"),
    (["SCAN", "0"], "SCAN is not"),
    (["CONFIG", "GET", "*"], "CONFIG is not"),
    (["EVAL", "return 1", "0"], "EVAL is not"),
    (["MONITOR"], "MONITOR is not"),
    (["DEBUG", "SLEEP", "1"], "DEBUG is not"),
    (["FLUSHALL"], "FLUSHALL is not"),
    (["CLIENT", "KILL", "ID", "1"], "CLIENT KILL is not"),
    (["XINFO", "STREAM", "s", "FULL"], "takes 1 argument"),
    (["LRANGE", "k", "0", "-1"], "not bounded"),
    (["LRANGE", "k", "0", "5000"], "not bounded"),
    (["ZRANGE", "k", "0", "10", "BYSCORE"], "index form"),
    (["LRANGE", "k", "zero", "9"], "must be an integer"),
    (["SLOWLOG", "GET", "100000"], "count must be"),
    (["LLEN"], "takes 1 argument"),
    ([], "empty"),
]


@pytest.mark.parametrize(("command", "reason"), REFUSED)
def test_writes_and_dangerous_reads_are_refused(command: list[str], reason: str) -> None:
    with pytest.raises(ReadOnlyError, match=reason):
        check_redis_command(command)


def test_a_templated_range_is_checked_once_rendered() -> None:
    check_redis_command(["LRANGE", "k", "0", "{{ labels.n }}"], rendered=False)
    with pytest.raises(ReadOnlyError, match="must be an integer"):
        check_redis_command(["LRANGE", "k", "0", "{{ labels.n }}"], rendered=True)
    with pytest.raises(ReadOnlyError, match="not bounded"):
        check_redis_command(["LRANGE", "k", "0", "-1"], rendered=True)
