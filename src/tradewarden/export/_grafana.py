"""A Grafana dashboard with the panels seed 000 lists, over the metrics tradewarden's guard,
probes and scraper write.

Rows: API health, queue health, worker health, database, Redis, RPC providers, trading
(orders, failures, balances, trading state) and the warden's monitors. Every query goes
through the ``${datasource}`` variable (a Prometheus data source: the warden itself or a
Prometheus); ``$job`` filters the scraped targets. Queries use ``$__rate_interval``, which
Grafana replaces before sending them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["DASHBOARD_UID", "Panel", "Row", "dashboard", "dashboard_rows"]

DASHBOARD_UID = "tradewarden-overview"
_DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
_RATE = "$__rate_interval"
_JOB = 'job=~"$job"'


@dataclass(frozen=True)
class Panel:
    """One panel: queries as (expression, legend), a unit, and a kind."""

    title: str
    queries: tuple[tuple[str, str], ...]
    unit: str = "short"
    kind: str = "timeseries"
    width: int = 8
    description: str = ""
    mappings: tuple[tuple[str, str, str], ...] = ()  # (value, text, colour) for stat panels


@dataclass(frozen=True)
class Row:
    """A titled row of panels."""

    title: str
    panels: tuple[Panel, ...] = field(default_factory=tuple)


def _p(title: str, *queries: tuple[str, str], **options: Any) -> Panel:
    return Panel(title, tuple(queries), **options)


def dashboard_rows() -> tuple[Row, ...]:
    """Return the dashboard's rows (seed 000's list, plus the warden's monitors)."""
    http = f"http_requests_total{{{_JOB}}}"
    buckets = f"http_request_duration_seconds_bucket{{{_JOB}}}"
    return (
        Row(
            "API health",
            (
                _p(
                    "Request rate",
                    (f"sum by (job, route) (rate({http}[{_RATE}]))", "{{job}} {{route}}"),
                    unit="reqps",
                ),
                _p(
                    "Error rate (5xx share)",
                    (
                        (
                            "sum by (job) (rate(http_requests_total"
                            f'{{{_JOB},status=~"5.."}}[{_RATE}]))'
                            f" / sum by (job) (rate({http}[{_RATE}]))"
                        ),
                        "{{job}}",
                    ),
                    unit="percentunit",
                ),
                _p(
                    "Response time",
                    *(
                        (
                            f"histogram_quantile({q}, sum by (job, le) (rate({buckets}[{_RATE}])))",
                            f"p{round(q * 100)} {{{{job}}}}",
                        )
                        for q in (0.5, 0.95, 0.99)
                    ),
                    unit="s",
                ),
            ),
        ),
        Row(
            "Queue health",
            (
                _p(
                    "Jobs by state",
                    ("sum by (queue, state) (queue_jobs)", "{{queue}} {{state}}"),
                ),
                _p(
                    "Oldest waiting job",
                    ("max by (queue) (queue_oldest_waiting_seconds)", "{{queue}}"),
                    unit="s",
                ),
                _p(
                    "Failure ratio and processing time",
                    ("max by (queue) (queue_failure_ratio)", "failed {{queue}}"),
                    ("max by (queue) (queue_processing_seconds_avg)", "avg s {{queue}}"),
                ),
            ),
        ),
        Row(
            "Worker health",
            (
                _p(
                    "Targets up",
                    (f"sum by (job) (up{{{_JOB}}})", "{{job}} up"),
                    (f"count by (job) (up{{{_JOB}}})", "{{job}} total"),
                ),
                _p(
                    "CPU per process",
                    (
                        f"rate(process_cpu_seconds_total{{{_JOB}}}[{_RATE}])",
                        "{{job}} {{instance}}",
                    ),
                    unit="percentunit",
                ),
                _p(
                    "Memory per process",
                    (f"process_resident_memory_bytes{{{_JOB}}}", "{{job}} {{instance}}"),
                    unit="bytes",
                ),
            ),
        ),
        Row(
            "Database",
            (
                _p(
                    "Up",
                    ("postgres_up", "{{monitor}}"),
                    ("pg_up", "{{instance}}"),
                    kind="stat",
                    mappings=(("0", "DOWN", "red"), ("1", "UP", "green")),
                ),
                _p(
                    "Round trip and longest query",
                    ("postgres_select1_seconds", "SELECT 1 {{monitor}}"),
                    ("postgres_longest_query_seconds", "longest {{monitor}}"),
                    unit="s",
                ),
                _p(
                    "Connections",
                    ("postgres_connections", "open {{monitor}}"),
                    ("postgres_max_connections", "max {{monitor}}"),
                ),
            ),
        ),
        Row(
            "Redis",
            (
                _p(
                    "Memory",
                    ("redis_used_memory_bytes", "used {{monitor}}"),
                    ("redis_maxmemory_bytes > 0", "max {{monitor}}"),
                    unit="bytes",
                ),
                _p("Connected clients", ("redis_connected_clients", "{{monitor}}")),
                _p("PING round trip", ("redis_ping_seconds", "{{monitor}}"), unit="s"),
            ),
        ),
        Row(
            "RPC providers",
            (
                _p(
                    "Latency p95 per provider",
                    (
                        (
                            "histogram_quantile(0.95, sum by (provider, le) "
                            f"(rate(rpc_request_duration_seconds_bucket{{{_JOB}}}[{_RATE}])))"
                        ),
                        "{{provider}}",
                    ),
                    unit="s",
                ),
                _p(
                    "Success rate per provider",
                    (
                        (
                            "sum by (provider) (rate(rpc_requests_total"
                            f'{{{_JOB},outcome="success"}}[{_RATE}]))'
                            " / sum by (provider) (rate(rpc_requests_total"
                            f"{{{_JOB}}}[{_RATE}]))"
                        ),
                        "{{provider}}",
                    ),
                    unit="percentunit",
                ),
                _p(
                    "Health and failovers",
                    (f"min by (provider) (rpc_health_status{{{_JOB}}})", "healthy {{provider}}"),
                    (
                        (
                            "sum by (provider) (increase(rpc_requests_total"
                            f'{{{_JOB},outcome!="success"}}[{_RATE}]))'
                        ),
                        "failed over {{provider}}",
                    ),
                ),
            ),
        ),
        Row(
            "Trading",
            (
                _p(
                    "Orders by status",
                    (
                        f"sum by (status) (rate(orders_total{{{_JOB}}}[{_RATE}]))",
                        "{{status}}",
                    ),
                    unit="ops",
                ),
                _p(
                    "Order failures",
                    (
                        (
                            f"sum by (job) (rate(orders_failed_total{{{_JOB}}}[{_RATE}]))"
                            f" / sum by (job) (rate(orders_total{{{_JOB}}}[{_RATE}]))"
                        ),
                        "failed share {{job}}",
                    ),
                    unit="percentunit",
                ),
                _p(
                    "Balances",
                    ("exchange_balance", "{{exchange}} {{asset}}"),
                    ("wallet_balance_sol or solana_wallet_balance_sol", "SOL {{wallet}}"),
                ),
                _p(
                    "Trading state",
                    (f"max by (job) (trading_state{{{_JOB}}})", "{{job}}"),
                    kind="stat",
                    mappings=(
                        ("0", "ACTIVE", "green"),
                        ("1", "REDUCING", "orange"),
                        ("2", "HALTED", "red"),
                    ),
                ),
                _p(
                    "Circuit breakers",
                    (f"circuit_breaker_state{{{_JOB}}}", "{{name}}"),
                    description="CLOSED 0, HALF_OPEN 0.5, OPEN 1",
                ),
                _p(
                    "Risk limit breaches",
                    (
                        f"sum by (limit) (increase(risk_limit_breaches_total{{{_JOB}}}[1h]))",
                        "{{limit}}",
                    ),
                ),
            ),
        ),
        Row(
            "Monitors",
            (
                _p(
                    "Monitors DOWN",
                    ('sum(monitor_state{state="DOWN"})', "DOWN"),
                    kind="stat",
                    mappings=(("0", "none", "green"),),
                ),
                _p(
                    "Alerts firing",
                    ('count by (alertname) (ALERTS{alertstate="firing"})', "{{alertname}}"),
                ),
                _p("Check duration", ("probe_duration_seconds", "{{monitor}}"), unit="s"),
                _p(
                    "Since the last heartbeat",
                    ("time() - heartbeat_last_seen_timestamp_seconds", "{{monitor}}"),
                    unit="s",
                ),
            ),
        ),
    )


def _panel_json(panel: Panel, panel_id: int, x: int, y: int) -> dict[str, Any]:
    targets = [
        {
            "refId": chr(ord("A") + index),
            "datasource": _DATASOURCE,
            "expr": expr,
            "legendFormat": legend,
            "range": True,
        }
        for index, (expr, legend) in enumerate(panel.queries)
    ]
    defaults: dict[str, Any] = {"unit": panel.unit}
    if panel.mappings:
        defaults["mappings"] = [
            {
                "type": "value",
                "options": {
                    value: {"text": text, "color": colour, "index": index}
                    for index, (value, text, colour) in enumerate(panel.mappings)
                },
            }
        ]
    options: dict[str, Any] = (
        {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}}
        if panel.kind == "stat"
        else {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True}}
    )
    return {
        "id": panel_id,
        "type": panel.kind,
        "title": panel.title,
        "description": panel.description,
        "datasource": _DATASOURCE,
        "gridPos": {"h": 8, "w": panel.width, "x": x, "y": y},
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": options,
        "targets": targets,
    }


def _layout(rows: Sequence[Row]) -> Iterator[dict[str, Any]]:
    panel_id = 0
    y = 0
    for row in rows:
        panel_id += 1
        yield {
            "id": panel_id,
            "type": "row",
            "title": row.title,
            "collapsed": False,
            "gridPos": {"h": 1, "w": 24, "x": 0, "y": y},
            "panels": [],
        }
        y += 1
        x = 0
        for panel in row.panels:
            if x + panel.width > 24:
                x = 0
                y += 8
            panel_id += 1
            yield _panel_json(panel, panel_id, x, y)
            x += panel.width
        y += 8


def dashboard(title: str = "tradewarden") -> dict[str, Any]:
    """Return the dashboard as Grafana's JSON model (import it, pick the data source)."""
    return {
        "uid": DASHBOARD_UID,
        "title": title,
        "tags": ["tradewarden", "trading"],
        "timezone": "browser",
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "graphTooltip": 1,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "annotations": {"list": []},
        "links": [],
        "templating": {
            "list": [
                {
                    "name": "datasource",
                    "label": "Data source",
                    "type": "datasource",
                    "query": "prometheus",
                    "current": {},
                    "hide": 0,
                    "refresh": 1,
                    "regex": "",
                    "options": [],
                },
                {
                    "name": "job",
                    "label": "Job",
                    "type": "query",
                    "datasource": _DATASOURCE,
                    "definition": "label_values(up, job)",
                    "query": {"query": "label_values(up, job)", "refId": "job"},
                    "current": {},
                    "hide": 0,
                    "refresh": 2,
                    "multi": True,
                    "includeAll": True,
                    "allValue": ".*",
                    "regex": "",
                    "sort": 1,
                    "options": [],
                },
            ]
        },
        "panels": list(_layout(dashboard_rows())),
    }
