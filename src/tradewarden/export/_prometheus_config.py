"""A ``prometheus.yml`` scraping what the warden scrapes, plus the warden itself.

Prometheus reads secrets from files only (``password_file``, ``credentials_file``); a
secret the warden reads from an environment variable is referenced as a file under
``secrets_dir`` named after the job, for the operator to create. Nothing secret is ever
written into the file.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tradewarden.export._yaml import dump_yaml
from tradewarden.series._config import ScrapeConfig

__all__ = ["WardenTarget", "prometheus_config", "render_prometheus_config"]

WARDEN_JOB = "tradewarden"


@dataclass(frozen=True)
class WardenTarget:
    """How Prometheus reaches the warden's own ``/metrics``."""

    address: str
    scheme: str = "http"
    # Set when the warden's /metrics needs an API key (server.metrics_require_auth).
    credentials_file: Path | None = None
    scrape_interval_s: float = 15.0


@dataclass
class _Secrets:
    """The secret files the operator must provide, in the order they are referenced."""

    folder: Path
    needed: list[str] = field(default_factory=list)

    def from_env(self, job: str, what: str, env: str) -> str:
        path = str(self.folder / f"{_slug(job)}_{what}")
        self.needed.append(f"{path}: the value of ${env}")
        return path


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in text)


def duration(seconds: float) -> str:
    """Return ``seconds`` in Prometheus's duration notation (``5s``, ``1500ms``)."""
    if seconds >= 1 and math.isclose(seconds, round(seconds)):
        return f"{round(seconds)}s"
    return f"{max(1, round(seconds * 1000))}ms"


def _job(config: ScrapeConfig, secrets: _Secrets) -> dict[str, Any]:
    job: dict[str, Any] = {
        "job_name": config.job_name,
        "scrape_interval": duration(config.scrape_interval),
        "scrape_timeout": duration(config.timeout_s),
        "scheme": config.scheme,
        "metrics_path": config.metrics_path,
    }
    if config.params:
        job["params"] = {name: list(values) for name, values in config.params.items()}
    if config.honor_labels:
        job["honor_labels"] = True
    if not config.honor_timestamps:
        job["honor_timestamps"] = False
    if config.sample_limit:
        job["sample_limit"] = config.sample_limit
    if config.body_size_limit:
        job["body_size_limit"] = f"{config.body_size_limit}B"
    if config.basic_auth is not None:
        auth = config.basic_auth
        password_file = (
            str(auth.password_file)
            if auth.password_file is not None
            else secrets.from_env(config.job_name, "password", auth.password_env or "")
        )
        job["basic_auth"] = {"username": auth.username, "password_file": password_file}
    elif config.bearer_token_file is not None:
        job["authorization"] = {
            "type": "Bearer",
            "credentials_file": str(config.bearer_token_file),
        }
    elif config.bearer_token_env is not None:
        job["authorization"] = {
            "type": "Bearer",
            "credentials_file": secrets.from_env(
                config.job_name, "bearer_token", config.bearer_token_env
            ),
        }
    job["static_configs"] = [
        {"targets": list(group.targets), **({"labels": group.labels} if group.labels else {})}
        for group in config.static_configs
    ]
    return job


def _warden_job(warden: WardenTarget) -> dict[str, Any]:
    job: dict[str, Any] = {
        "job_name": WARDEN_JOB,
        "scrape_interval": duration(warden.scrape_interval_s),
        "scheme": warden.scheme,
        "metrics_path": "/metrics",
    }
    if warden.credentials_file is not None:
        job["authorization"] = {
            "type": "Bearer",
            "credentials_file": str(warden.credentials_file),
        }
    job["static_configs"] = [{"targets": [warden.address]}]
    return job


def prometheus_config(
    scrape_configs: Sequence[ScrapeConfig],
    *,
    warden: WardenTarget,
    rule_files: Sequence[str],
    secrets_dir: Path,
    alertmanager: str = "127.0.0.1:9093",
    evaluation_interval_s: float = 15.0,
    external_labels: dict[str, str] | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """Return the Prometheus config and the secret files it expects the operator to write.

    ``evaluation_interval_s`` and ``external_labels`` are the warden's (``rules:``), so
    the exported rules run on the same clock and their alerts carry the same labels."""
    secrets = _Secrets(secrets_dir)
    jobs = [_warden_job(warden)]
    jobs.extend(_job(config, secrets) for config in scrape_configs if config.job_name != WARDEN_JOB)
    settings: dict[str, Any] = {
        "scrape_interval": "15s",
        "evaluation_interval": duration(evaluation_interval_s),
    }
    if external_labels:
        settings["external_labels"] = dict(external_labels)
    document: dict[str, Any] = {
        "global": settings,
        "rule_files": list(rule_files),
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]},
        "scrape_configs": jobs,
    }
    return document, secrets.needed


def render_prometheus_config(document: dict[str, Any], secret_files: Sequence[str]) -> str:
    """Return the config as YAML, headed by what the operator still has to provide."""
    lines = [
        "# prometheus.yml written by `tradewarden export prometheus-config`.",
        "# The same targets as the warden's scrape_configs, plus the warden's own /metrics.",
        "# alerting: a placeholder, point it at your Alertmanager.",
    ]
    if secret_files:
        lines.append("# Secret files to create (readable by Prometheus only):")
        lines.extend(f"#   {line}" for line in secret_files)
    body = dump_yaml(document)
    return "\n".join(lines) + "\n" + body
