"""Loading the bundled set and the user's folders, and finding an alert's runbook."""

from __future__ import annotations

from pathlib import Path

import pytest

from tradewarden.config import parse_config_text
from tradewarden.errors import ConfigError, NotFoundError
from tradewarden.runbooks import (
    RunbookLoadError,
    RunbooksConfig,
    bundled_files,
    load_runbooks,
)


def runbook_text(rid: str, *, title: str = "A runbook", applies: str = "") -> str:
    return (
        f"id: {rid}\ntitle: {title}\nsummary: One line.\n"
        "symptoms: [s]\ndiagnosis: [d]\nresolution: [r]\n" + applies
    )


def test_the_bundled_set_loads_and_ships_as_package_files() -> None:
    names = [path.name for path in bundled_files()]
    assert "warden-self-check.yml" in names
    catalog = load_runbooks(RunbooksConfig(), Path("/nonexistent"))
    runbook = catalog.get("warden-self-check")
    assert runbook.source == "bundled:warden-self-check.yml"
    assert [step.kind for step in runbook.automated] == ["promql"]


def test_a_user_runbook_replaces_the_bundled_one_of_its_id(tmp_path: Path) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "self.yml").write_text(runbook_text("warden-self-check", title="Mine"))
    (tmp_path / "mine" / "extra.yaml").write_text(runbook_text("extra-one"))
    catalog = load_runbooks(RunbooksConfig(directories=("mine",)), tmp_path)
    assert catalog.get("warden-self-check").title == "Mine"
    assert catalog.get("warden-self-check").source == str(tmp_path / "mine" / "self.yml")
    assert "extra-one" in [r.id for r in catalog.all()]


def test_bundled_off_loads_only_the_users(tmp_path: Path) -> None:
    (tmp_path / "a.yml").write_text(runbook_text("only-mine"))
    catalog = load_runbooks(RunbooksConfig(bundled=False, directories=(str(tmp_path),)), Path("/"))
    assert [r.id for r in catalog.all()] == ["only-mine"]
    with pytest.raises(NotFoundError, match="warden-self-check"):
        catalog.get("warden-self-check")


def test_duplicate_ids_within_the_users_runbooks_are_rejected(tmp_path: Path) -> None:
    for folder in ("one", "two"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "x.yml").write_text(runbook_text("same-id"))
    with pytest.raises(RunbookLoadError) as caught:
        load_runbooks(RunbooksConfig(directories=("one", "two")), tmp_path)
    first, second = tmp_path / "one" / "x.yml", tmp_path / "two" / "x.yml"
    assert caught.value.problems == [f"{second}: runbook same-id: id: also defined in {first}"]


def test_every_bad_file_and_missing_folder_is_reported_and_nothing_loads(tmp_path: Path) -> None:
    (tmp_path / "good.yml").write_text(runbook_text("good-one"))
    (tmp_path / "bad.yml").write_text(
        runbook_text("bad-one")
        + "automated:\n"
        + "  - {id: drop, title: D, kind: sql, connection: app-db, query: 'DROP TABLE x'}\n"
    )
    (tmp_path / "list.yml").write_text("- not a mapping\n")
    with pytest.raises(RunbookLoadError) as caught:
        load_runbooks(RunbooksConfig(directories=(".", "missing")), tmp_path)
    assert isinstance(caught.value, ConfigError)
    text = str(caught.value)
    assert f"{tmp_path / 'bad.yml'}:8: runbook bad-one: step drop: query:" in text
    assert f"{tmp_path / 'list.yml'}:1: a runbook file must be a mapping" in text
    assert f"{tmp_path / 'missing'}: runbooks.directories: no such directory" in text


def test_an_alert_finds_its_runbook_by_annotation_then_by_applies_to(tmp_path: Path) -> None:
    (tmp_path / "a.yml").write_text(
        runbook_text("backlog-any", applies="applies_to: {alertnames: [HighQueueBacklog]}\n")
    )
    (tmp_path / "b.yml").write_text(
        runbook_text(
            "backlog-orders",
            applies=(
                "applies_to: {alertnames: [HighQueueBacklog], matchers: ['queue=\"orders\"']}\n"
            ),
        )
    )
    (tmp_path / "c.yml").write_text(
        runbook_text("any-redis", applies="applies_to: {matchers: ['service=~\"redis.*\"']}\n")
    )
    (tmp_path / "d.yml").write_text(runbook_text("nothing-applies"))
    catalog = load_runbooks(RunbooksConfig(bundled=False, directories=(".",)), tmp_path)

    def found(labels: dict[str, str], annotations: dict[str, str] | None = None) -> str | None:
        runbook = catalog.for_alert(labels, annotations or {})
        return runbook.id if runbook else None

    assert found({"alertname": "HighQueueBacklog", "queue": "orders"}) == "backlog-orders"
    assert found({"alertname": "HighQueueBacklog", "queue": "signals"}) == "backlog-any"
    assert found({"alertname": "Other", "service": "redis-main"}) == "any-redis"
    assert found({"alertname": "Other"}) is None
    assert found({"alertname": "Other"}, {"runbook": "nothing-applies"}) == "nothing-applies"
    assert (
        found({"alertname": "HighQueueBacklog", "queue": "orders"}, {"runbook": "backlog-any"})
        == "backlog-any"
    )
    # An annotation naming no loaded runbook falls back to matching.
    assert found({"alertname": "HighQueueBacklog"}, {"runbook": "gone"}) == "backlog-any"


def test_the_runbooks_section_of_the_config_file() -> None:
    config = parse_config_text(
        "runbooks:\n"
        "  directories: [runbooks]\n"
        "  step_timeout: 5s\n"
        "  run_timeout: 2m\n"
        "  allow_automatic: [kill_switch.halt]\n"
        "  connections:\n"
        "    - {name: app-db, kind: postgres, url_env: APP_PG_URL}\n"
        "    - {name: app-redis, kind: redis, url_file: /run/secrets/redis}\n"
    ).runbooks
    assert (config.step_timeout, config.run_timeout) == (5.0, 120.0)
    assert config.allow_automatic == ("kill_switch.halt",)
    assert config.connection("app-db") is not None
    assert config.connection("nope") is None


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ("connections: [{name: db, kind: postgres, url: 'postgresql://u:pw@h/db'}]", "inline URL"),
        ("connections: [{name: db, kind: postgres}]", "exactly one of url_env, url_file"),
        ("connections: [{name: db, kind: mysql, url_env: X}]", "runbooks.connections.0.kind"),
        (
            (
                "connections: [{name: db, kind: redis, url_env: X}, "
                "{name: db, kind: redis, url_env: Y}]"
            ),
            "used twice",
        ),
        ("allow_automatic: [shell.run]", "runbooks.allow_automatic.0"),
        ("step_timeout: soon", "invalid duration"),
        ("steps: 1", "runbooks.steps: unknown field"),
    ],
)
def test_a_bad_runbooks_section_names_the_field(section: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        parse_config_text(f"runbooks:\n  {section}\n")
    assert "pw@" not in str(caught.value)


def test_a_connection_url_comes_from_env_or_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = tmp_path / "url"
    secret.write_text("redis://127.0.0.1:6379/0\n")
    monkeypatch.setenv("TW_RB_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
    config = RunbooksConfig.model_validate(
        {
            "connections": [
                {"name": "db", "kind": "postgres", "url_env": "TW_RB_PG"},
                {"name": "cache", "kind": "redis", "url_file": str(secret)},
                {"name": "unset", "kind": "redis", "url_env": "TW_RB_UNSET"},
                {"name": "wrong", "kind": "redis", "url_env": "TW_RB_PG"},
            ]
        }
    )
    assert config.connections[0].resolve_url().startswith("postgresql://")
    assert config.connections[1].resolve_url() == "redis://127.0.0.1:6379/0"
    with pytest.raises(ValueError, match="TW_RB_UNSET"):
        config.connections[2].resolve_url()
    with pytest.raises(ValueError, match="must be a redis"):
        config.connections[3].resolve_url()
