"""Bad runbooks are rejected at load, each problem naming the file, the runbook, the step
and the field."""

from __future__ import annotations

import textwrap

import pytest

from tradewarden.errors import ConfigError
from tradewarden.runbooks import (
    HttpStep,
    ProbeStep,
    RedisStep,
    Runbook,
    RunbookLoadError,
    SqlStep,
    parse_runbook,
)

HEAD = """\
id: high-queue-backlog
title: High queue backlog
summary: Jobs pile up faster than workers take them.
symptoms: [Jobs wait]
diagnosis: [Look at the queue]
resolution: [Add workers]
"""


def load(automated: str = "", extra: str = "") -> Runbook:
    text = HEAD + extra
    if automated:
        text += "automated:\n" + textwrap.indent(textwrap.dedent(automated), "  ")
    return parse_runbook(text, "runbooks/queues.yml")


def problems(automated: str = "", extra: str = "") -> list[str]:
    with pytest.raises(RunbookLoadError) as caught:
        load(automated, extra)
    assert isinstance(caught.value, ConfigError)
    return caught.value.problems


def test_a_valid_runbook_loads_with_every_step_kind() -> None:
    runbook = load(
        """\
        - id: waiting-now
          title: Jobs waiting now
          kind: promql
          timeout: 5s
          query: 'sum by (queue) (queue_jobs_waiting{queue="{{ labels.queue }}"})'
        - id: health
          title: Health
          kind: http
          url: 'http://{{ labels.instance }}/health'
          headers_env: {Authorization: BOT_HEALTH_AUTH}
        - id: pg-activity
          title: Connections by state
          kind: sql
          connection: app-db
          query: "SELECT state, count(*) FROM pg_stat_activity WHERE datname = :db GROUP BY state"
          params: {db: "{{ labels.db }}"}
        - id: wait-length
          title: Jobs in the wait list
          kind: redis
          connection: app-redis
          command: [LLEN, "bull:{{ labels.queue }}:wait"]
        - id: recheck
          title: Check now
          kind: probe
          monitor: "{{ labels.monitor }}"
        - id: inline
          title: Inline probe
          kind: probe
          probe: {kind: tcp, host: 127.0.0.1, port: 5432}
        """,
        extra="actions:\n  - {id: halt, title: Halt, action: kill_switch.halt}\n",
    )
    kinds = [type(step) for step in runbook.automated]
    assert kinds[1:4] == [HttpStep, SqlStep, RedisStep]
    assert isinstance(runbook.automated[5], ProbeStep)
    assert runbook.automated[0].timeout == 5.0
    assert runbook.source == "runbooks/queues.yml"
    assert runbook.actions[0].automatic is False


def test_a_forbidden_step_kind_is_rejected_naming_file_and_step() -> None:
    found = problems(
        """\
        - id: purge
          title: Purge the queue
          kind: shell
          command: redis-cli DEL bull:orders:wait
        """
    )
    assert len(found) == 1
    assert found[0].startswith("runbooks/queues.yml:8: runbook high-queue-backlog: step purge:")
    assert "kind 'shell' is not allowed" in found[0]


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("INSERT INTO jobs VALUES (1)", "must start with SELECT"),
        ("WITH x AS (DELETE FROM jobs RETURNING *) SELECT * FROM x", "DELETE is not allowed"),
        ("SELECT nextval('jobs_id_seq')", "nextval() is not allowed"),
        ("SELECT 1; DROP TABLE jobs", "exactly one statement"),
        ("EXPLAIN ANALYZE DELETE FROM jobs", "ANALYZE is not allowed"),
        ("SELECT * FROM jobs FOR UPDATE", "row locks"),
        ("SELECT pg_terminate_backend(42)", "pg_terminate_backend() is not allowed"),
    ],
)
def test_a_write_sql_statement_is_rejected_naming_the_step(query: str, reason: str) -> None:
    found = problems(
        f"""\
        - id: pg-step
          title: A query
          kind: sql
          connection: app-db
          query: "{query}"
        """
    )
    assert len(found) == 1
    assert "runbook high-queue-backlog: step pg-step: query:" in found[0]
    assert reason in found[0]


@pytest.mark.parametrize(
    ("command", "reason"),
    [
        ("[DEL, 'bull:orders:wait']", "DEL is not an allowed Redis read command"),
        ("[KEYS, '*']", "KEYS is not an allowed"),
        ("[CONFIG, GET, maxmemory]", "CONFIG is not an allowed"),
        ("[LRANGE, 'bull:orders:wait', '0', '-1']", "is not bounded"),
        ("['{{ labels.cmd }}', key]", "the command name is never templated"),
    ],
)
def test_a_redis_command_outside_the_allow_list_is_rejected(command: str, reason: str) -> None:
    found = problems(
        f"""\
        - id: redis-step
          title: A command
          kind: redis
          connection: app-redis
          command: {command}
        """
    )
    assert "step redis-step: command:" in found[0]
    assert reason in found[0]


def test_an_unknown_field_is_named_with_its_step() -> None:
    found = problems(
        """\
        - id: health
          title: Health
          kind: http
          url: http://127.0.0.1/health
          method: GET
          body: '{"x": 1}'
        """,
        extra="owner: ops\n",
    )
    assert (
        "runbooks/queues.yml:14: runbook high-queue-backlog: step health: body: unknown field"
        in found
    )
    assert "runbooks/queues.yml:7: runbook high-queue-backlog: owner: unknown field" in found


def test_a_post_is_no_http_step() -> None:
    found = problems(
        """\
        - id: restart
          title: Restart
          kind: http
          method: POST
          url: http://127.0.0.1/restart
        """
    )
    assert "step restart: method:" in found[0]


def test_duplicate_step_ids_are_rejected() -> None:
    found = problems(
        """\
        - {id: twice, title: A, kind: promql, query: up}
        - {id: twice, title: B, kind: promql, query: up}
        """
    )
    assert found == [
        "runbooks/queues.yml:7: runbook high-queue-backlog: automated: id 'twice' is used twice"
    ]


def test_bad_template_syntax_is_rejected_naming_the_field() -> None:
    found = problems(
        """\
        - id: waiting-now
          title: Jobs waiting
          kind: promql
          query: 'queue_jobs_waiting{queue="{{ labels.queue }"}'
        """
    )
    assert "step waiting-now: query: invalid template" in found[0]


def test_a_templated_sql_query_is_not_a_template_but_its_params_are() -> None:
    found = problems(
        """\
        - id: by-queue
          title: By queue
          kind: sql
          connection: app-db
          query: "SELECT * FROM jobs WHERE queue = :queue AND state = :state"
          params: {queue: "{{ labels.queue }}"}
        """
    )
    assert "params: the query uses :state" in found[0]


def test_invalid_promql_without_templates_is_rejected_at_load() -> None:
    found = problems("- {id: bad-query, title: Q, kind: promql, query: 'sum(up'}\n")
    assert "step bad-query: query: invalid PromQL" in found[0]


def test_every_problem_is_reported_at_once() -> None:
    found = problems(
        """\
        - {id: one, title: A, kind: exec}
        - {id: two, title: B, kind: redis, connection: app-redis, command: [FLUSHALL]}
        """,
        extra="applies_to: {matchers: ['queue']}\n",
    )
    assert len(found) == 3
    assert any("applies_to.matchers" in line for line in found)


def test_a_probe_step_needs_exactly_one_runnable_target() -> None:
    found = problems("- {id: recheck, title: R, kind: probe}\n")
    assert "step recheck" in found[0]
    assert "exactly one of monitor, probe" in found[0]
    found = problems("- {id: beat, title: B, kind: probe, probe: {kind: heartbeat}}\n")
    assert "step beat" in found[0]
    assert "a heartbeat is pushed, not probed" in found[0]
    found = problems("- {id: web, title: W, kind: probe, probe: {kind: http, urls: x}}\n")
    assert [line.split(": ", 2)[2] for line in found] == [
        "step web: probe.url: Field required",
        "step web: probe.urls: unknown field",
    ]


def test_a_missing_required_field_and_a_bad_id_are_named() -> None:
    with pytest.raises(RunbookLoadError) as caught:
        parse_runbook("id: X_bad\ntitle: t\n", "mine.yml")
    text = str(caught.value)
    assert "mine.yml:1: runbook X_bad: id:" in text
    assert "runbook X_bad: summary: Field required" in text


def test_invalid_yaml_names_the_line() -> None:
    with pytest.raises(RunbookLoadError, match=r"^broken.yml:2: invalid YAML"):
        parse_runbook("id: a\n  title: [unclosed\n", "broken.yml")


def test_actions_run_unattended_only_when_allowed() -> None:
    runbook = load(
        extra=(
            "actions:\n"
            "  - {id: halt, title: Halt, action: kill_switch.halt, automatic: true}\n"
            "  - {id: pause, title: Pause, action: queue.pause, automatic: true}\n"
            "  - {id: open, title: Open, action: breaker.open}\n"
        )
    )
    assert [a.id for a in runbook.automatic_actions(("kill_switch.halt", "breaker.open"))] == [
        "halt"
    ]
    assert runbook.automatic_actions(()) == []
    found = problems(extra="actions:\n  - {id: wipe, title: Wipe, action: db.truncate}\n")
    assert "action wipe: action:" in found[0]
