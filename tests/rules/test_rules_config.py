"""The config file's rules: section and the groups it names."""

from __future__ import annotations

from pathlib import Path

import pytest

from tradewarden.config import parse_config_text
from tradewarden.errors import ConfigError
from tradewarden.probes.kinds import monitor_adapter
from tradewarden.rules import RuleLoadError
from tradewarden.rules._config import DEFAULT_RULES_SOURCE, RulesConfig, load_rule_groups
from tradewarden.rules.packs import pack_names, seed_files

RULE = "groups:\n  - name: {name}\n    rules:\n      - alert: A{name}\n        expr: up == 0\n"


def test_section_is_read_with_prometheus_durations() -> None:
    config = parse_config_text(
        "rules:\n  files: ['rules/*.yml']\n  evaluation_interval: 30s\n  packs: [api]\n"
        "  external_labels: {cluster: eu1}\n"
    )
    rules = config.rules
    assert (rules.files, rules.packs, rules.evaluation_interval) == (("rules/*.yml",), ("api",), 30)
    assert rules.external_labels == {"cluster": "eu1"}
    assert parse_config_text("version: 1\n").rules == RulesConfig()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("rules:\n  packs: [nope]\n", "<config>:2: rules.packs: unknown pack(s) nope"),
        ("rules:\n  evaluation_interval: 5x\n", "rules.evaluation_interval: invalid duration"),
        ("rules:\n  fles: []\n", "rules.fles"),
    ],
)
def test_bad_section_names_the_field(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_config_text(text)


def test_packs_files_and_monitor_defaults_load_together(tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    for name in ("b", "a"):
        (tmp_path / "rules" / f"{name}.yml").write_text(RULE.format(name=name))
    monitor = monitor_adapter().validate_python(
        {"name": "api", "kind": "http", "url": "http://127.0.0.1:1/health"}
    )
    config = RulesConfig(files=("rules/*.yml",), packs=("api",))
    groups = load_rule_groups(config, tmp_path, [monitor])
    files = [g.file for g in groups]
    assert files[-3:-1] == [str(tmp_path / "rules/a.yml"), str(tmp_path / "rules/b.yml")]
    assert files[-1] == DEFAULT_RULES_SOURCE
    assert all(f.endswith("api.yml") for f in files[:-3])
    assert len(load_rule_groups(RulesConfig(packs=()), tmp_path)) == 0


def test_every_shipped_pack_and_seed_loads() -> None:
    groups = load_rule_groups(RulesConfig(default_rules=False), Path())
    assert {Path(g.file).stem for g in groups} == set(pack_names())
    from tradewarden.rules import load_rule_files

    assert load_rule_files(seed_files())


def test_a_missing_plain_file_is_a_problem(tmp_path: Path) -> None:
    with pytest.raises(RuleLoadError, match="no such file"):
        load_rule_groups(RulesConfig(files=("absent.yml",), packs=()), tmp_path)
    assert load_rule_groups(RulesConfig(files=("none/*.yml",), packs=()), tmp_path) == []
