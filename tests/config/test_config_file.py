"""The config file: schema, and errors that name file, line and field path."""

from __future__ import annotations

from pathlib import Path

import pytest

from tradewarden.config import EXAMPLE_CONFIG, ServiceConfig, load_config_file, parse_config_text
from tradewarden.errors import ConfigError


def test_no_file_means_defaults() -> None:
    assert load_config_file(None) == ServiceConfig()


def test_empty_file_means_defaults() -> None:
    assert parse_config_text("") == ServiceConfig()


def test_example_config_is_valid_and_documents_every_default() -> None:
    assert parse_config_text(EXAMPLE_CONFIG) == ServiceConfig()


def test_values_are_read(tmp_path: Path) -> None:
    path = tmp_path / "tw.yaml"
    path.write_text("server:\n  port: 9000\nauth:\n  access_token_ttl_s: 600\n", encoding="utf-8")
    config = load_config_file(path)
    assert config.server.port == 9000
    assert config.auth.access_token_ttl_s == 600


def test_bad_yaml_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "tw.yaml"
    path.write_text("server:\n  port: 9000\n  host: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config_file(path)
    message = caught.value.message
    assert message.startswith(f"{path}:")
    assert "invalid YAML" in message
    line = int(message.split(":")[1])
    assert line >= 3


def test_unknown_field_names_path_and_line() -> None:
    text = "version: 1\nserver:\n  port: 9000\n  colour: blue\n"
    with pytest.raises(ConfigError) as caught:
        parse_config_text(text, source="tw.yaml")
    assert caught.value.message == "tw.yaml:4: server.colour: unknown field"


def test_wrong_type_names_path_and_line() -> None:
    text = "auth:\n  login_rate_limit:\n    per_account: lots\n"
    with pytest.raises(ConfigError) as caught:
        parse_config_text(text, source="tw.yaml")
    message = caught.value.message
    assert message.startswith("tw.yaml:3: auth.login_rate_limit.per_account: ")
    assert "integer" in message


def test_out_of_range_value_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"tw\.yaml:2: server\.port: "):
        parse_config_text("server:\n  port: 0\n", source="tw.yaml")


def test_every_problem_is_reported_at_once() -> None:
    text = "server:\n  port: x\n  hots: a\n"
    with pytest.raises(ConfigError) as caught:
        parse_config_text(text, source="tw.yaml")
    lines = caught.value.message.splitlines()
    assert lines == [
        (
            "tw.yaml:2: server.port: "
            "Input should be a valid integer, unable to parse string as an integer"
        ),
        "tw.yaml:3: server.hots: unknown field",
    ]


def test_top_level_must_be_a_mapping() -> None:
    with pytest.raises(ConfigError, match="must be a mapping"):
        parse_config_text("- a\n- b\n", source="tw.yaml")


def test_missing_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config_file(tmp_path / "nope.yaml")


def test_unknown_section_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"tw\.yaml:1: moniters: unknown field"):
        parse_config_text("moniters: []\n", source="tw.yaml")
