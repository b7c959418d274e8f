"""The metrics: section and scrape_configs: in the config file, and their errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from tradewarden.config import parse_config_text
from tradewarden.errors import ConfigError

SCRAPES = """\
metrics:
  retention_s: 1h
  max_bytes: 64MiB
  snapshot_path: /var/lib/tw/series.snapshot
  snapshot_interval_s: 30
  self_scrape: false
scrape_configs:
  - job_name: bots
    scrape_interval: 15s
    scrape_timeout: 5s
    metrics_path: /stats
    params: {module: [http_2xx]}
    honor_labels: true
    sample_limit: 5000
    body_size_limit: 10MB
    basic_auth: {username: prom, password_file: /run/secrets/bots}
    static_configs:
      - targets: ["10.0.0.1:9100", "bot.internal:8000"]
        labels: {env: prod}
  - job_name: exporters
    bearer_token_env: EXPORTER_TOKEN
    static_configs:
      - targets: ["[::1]:9187"]
"""


def test_metrics_and_scrape_configs_are_read() -> None:
    config = parse_config_text(SCRAPES)
    assert config.metrics.retention_s == 3600
    assert config.metrics.max_bytes == 64 * 1024 * 1024
    assert config.metrics.snapshot_path == Path("/var/lib/tw/series.snapshot")
    assert config.metrics.self_scrape is False
    bots, exporters = config.scrape_configs
    assert (bots.scrape_interval, bots.timeout_s, bots.body_size_limit) == (15, 5, 10_000_000)
    assert bots.basic_auth is not None
    assert bots.basic_auth.password_file == Path("/run/secrets/bots")
    assert bots.static_configs[0].labels == {"env": "prod"}
    assert bots.params == {"module": ("http_2xx",)}
    assert (exporters.scrape_interval, exporters.timeout_s) == (5, 5)
    assert exporters.metrics_path == "/metrics"


def test_defaults() -> None:
    config = parse_config_text("")
    assert config.metrics.retention_s == 7200
    assert config.metrics.snapshot_interval_s == 60
    assert config.metrics.self_scrape is True
    assert config.metrics.snapshot_path is None  # the data directory's
    assert config.scrape_configs == ()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "scrape_configs:\n  - job_name: a\n    basic_auth: {username: u, password: hunter2}\n",
            "tw.yaml:3: scrape_configs.0.basic_auth: inline password is not accepted",
        ),
        (
            "scrape_configs:\n  - job_name: a\n    bearer_token: abc\n",
            "tw.yaml:2: scrape_configs.0: inline bearer_token is not accepted",
        ),
        (
            (
                "scrape_configs:\n  - job_name: a\n    static_configs:\n"
                "      - targets: [http://host:9100/metrics]\n"
            ),
            (
                "tw.yaml:4: scrape_configs.0.static_configs.0.targets: target "
                "'http://host:9100/metrics' must be host:port"
            ),
        ),
        (
            "scrape_configs:\n  - job_name: a\n    scrape_interval: 5s\n    scrape_timeout: 10s\n",
            "tw.yaml:2: scrape_configs.0: scrape_timeout (10 s) is longer than scrape_interval",
        ),
        (
            "scrape_configs:\n  - job_name: a\n    scrape_interval: soon\n",
            "tw.yaml:3: scrape_configs.0.scrape_interval: invalid duration 'soon'",
        ),
        (
            "scrape_configs:\n  - job_name: a\n  - job_name: a\n",
            "tw.yaml:1: scrape_configs: job_name 'a' is used twice",
        ),
        (
            "metrics:\n  max_bytes: lots\n",
            "tw.yaml:2: metrics.max_bytes: invalid size 'lots'",
        ),
        (
            "metrics:\n  retension_s: 60\n",
            "tw.yaml:2: metrics.retension_s: unknown field",
        ),
        (
            (
                "scrape_configs:\n  - job_name: a\n    static_configs:\n"
                "      - targets: ['h:1']\n        labels: {__x: y}\n"
            ),
            "tw.yaml:5: scrape_configs.0.static_configs.0.labels: invalid label name '__x'",
        ),
    ],
)
def test_bad_values_name_the_field_and_line(text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config_text(text, source="tw.yaml")
    assert caught.value.message.startswith(expected), caught.value.message
