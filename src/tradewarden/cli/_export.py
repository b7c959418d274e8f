"""``tradewarden export ...``: what a Prometheus + Grafana setup needs to do what the
warden does (for those who outgrow one box)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from tradewarden.cli._context import ConfigOption, Loaded, console, fail, load
from tradewarden.errors import ConfigError
from tradewarden.export import (
    WardenTarget,
    dashboard,
    merge_rule_files,
    prometheus_config,
    prometheus_rule_files,
    render_prometheus_config,
)
from tradewarden.rules._config import rule_file_paths
from tradewarden.rules.packs import pack_files

__all__ = ["export_app"]

export_app = typer.Typer(
    help="Write Prometheus rules and config, and Grafana dashboards.", no_args_is_help=True
)
OutOption = Annotated[
    Path | None, typer.Option("--out", help="Write into this directory (default: stdout).")
]
RulesOption = Annotated[
    list[Path] | None,
    typer.Option("--rules", help="A rule file of your own to include (repeatable)."),
]


def _configured_rule_files(loaded: Loaded) -> list[Path]:
    """The config file's ``rules.files`` (globs expanded, relative to the config file)."""
    base = loaded.config_path.parent if loaded.config_path is not None else Path()
    packs = set(pack_files())
    return [path for path in rule_file_paths(loaded.config.rules, base) if path not in packs]


def _write(out: Path, name: str, text: str) -> None:
    path = out / name
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise fail(f"cannot write {path}: {exc.strerror}") from None
    console.print(f"wrote {path}")


@export_app.command("prometheus-rules")
def prometheus_rules(
    config: ConfigOption = None,
    out: OutOption = None,
    rules: RulesOption = None,
    runbook_base: Annotated[
        str | None,
        typer.Option(help="Base URL of the runbooks (replaces 'docs/runbooks/' in links)."),
    ] = None,
) -> None:
    """The rule packs, the monitors' default rules and your rule files, promtool-valid."""
    loaded = load(config)
    try:
        user_files = [*_configured_rule_files(loaded), *(rules or [])]
        files = prometheus_rule_files(
            loaded.config.monitors,
            user_files,
            packs=loaded.config.rules.packs,
            default_rules=loaded.config.rules.default_rules,
            runbook_base=runbook_base,
        )
        if out is None:
            typer.echo(merge_rule_files(files), nl=False)
            return
    except ConfigError as exc:
        raise fail(exc.message, ConfigError.exit_code) from None
    for file in files:
        _write(out, file.name, file.text)


@export_app.command("prometheus-config")
def prometheus_config_command(
    config: ConfigOption = None,
    out: OutOption = None,
    warden: Annotated[
        str | None,
        typer.Option(help="host:port Prometheus reaches the warden at (default: server.*)."),
    ] = None,
    rules_dir: Annotated[
        str,
        typer.Option(help="Where Prometheus finds the exported rules (--out of prometheus-rules)."),
    ] = "rules",
    secrets_dir: Annotated[
        Path, typer.Option(help="Where the secret files Prometheus reads will be.")
    ] = Path("/etc/prometheus/secrets"),
    alertmanager: Annotated[
        str, typer.Option(help="host:port of the Alertmanager (a placeholder).")
    ] = "127.0.0.1:9093",
) -> None:
    """A prometheus.yml: the config file's scrape targets, the warden itself, rule_files."""
    loaded = load(config)
    rules = rules_dir.rstrip("/") or "."
    server = loaded.config.server
    host = server.host if server.host not in {"0.0.0.0", "::", ""} else "127.0.0.1"
    address = warden or (f"[{host}]:{server.port}" if ":" in host else f"{host}:{server.port}")
    target = WardenTarget(
        address=address,
        credentials_file=(secrets_dir / "tradewarden_api_key")
        if server.metrics_require_auth
        else None,
    )
    document, secret_files = prometheus_config(
        loaded.config.scrape_configs,
        warden=target,
        # Prometheus allows a glob in the file name only: one entry per folder written.
        rule_files=[f"{folder}/*.yml" for folder in (rules, f"{rules}/packs", f"{rules}/user")],
        secrets_dir=secrets_dir,
        alertmanager=alertmanager,
        evaluation_interval_s=loaded.config.rules.evaluation_interval,
        external_labels=loaded.config.rules.external_labels,
    )
    if target.credentials_file is not None:
        secret_files.insert(0, f"{target.credentials_file}: an API key of the warden (viewer)")
    text = render_prometheus_config(document, secret_files)
    if out is None:
        typer.echo(text, nl=False)
        return
    _write(out, "prometheus.yml", text)


@export_app.command("grafana-dashboards")
def grafana_dashboards(
    out: OutOption = None,
    title: Annotated[str, typer.Option(help="The dashboard's title.")] = "tradewarden",
) -> None:
    """A Grafana dashboard (JSON): API, queues, workers, database, Redis, RPC, trading."""
    text = json.dumps(dashboard(title), indent=2) + "\n"
    if out is None:
        typer.echo(text, nl=False)
        return
    _write(out, "tradewarden-overview.json", text)
